// Whether a QEMU can give a virtio-fs share a DAX window (our QEMU, `make vmm`): its
// vhost-user-fs-pci lists `cache-size` (@vfs/contracts qemu_dax). For the benchmarks that pick
// their cells or columns by it (bench-guest, vfs-bench coldstart).
import { execFileSync } from 'node:child_process';
import {
  DAX_DEVICE,
  DAX_PROPERTY,
  devicePropertyNames,
  errorMessage,
  QEMU_DAX_PROBE_ARGS,
  qemuCanDax,
} from '@vfs/contracts';

export type DaxQemuProbe =
  | { readonly ok: true; readonly version: string }
  | { readonly ok: false; readonly reason: string };

/** The first line of `--version`, or why `qemu` cannot map DAX windows (absent, failing, no cache-size). */
export function probeDaxQemu(qemu: string): DaxQemuProbe {
  const run = (args: readonly string[]): string =>
    execFileSync(qemu, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 });
  try {
    const version = run(['--version']).split('\n')[0] ?? '';
    if (!qemuCanDax(devicePropertyNames(run(QEMU_DAX_PROBE_ARGS))))
      return { ok: false, reason: `${qemu} (${version}) has no ${DAX_DEVICE} ${DAX_PROPERTY}` };
    return { ok: true, version };
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    return { ok: false, reason: missing ? `no ${qemu}` : `${qemu}: ${errorMessage(err).split('\n')[0]}` };
  }
}
