// virtio-fs cache modes, as virtiofsd names them: how long the guest may trust what it cached.
// The daemon's flags, its control protocol and configuration.toml all take these names.

export const CACHE_MODES = ['none', 'auto', 'always', 'metadata'] as const;

export type CacheMode = (typeof CACHE_MODES)[number];

export function isCacheMode(value: unknown): value is CacheMode {
  return CACHE_MODES.some((mode) => mode === value);
}
