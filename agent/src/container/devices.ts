/**
 * Device nodes of the container's /dev: runc's default set (null, zero, full, random, urandom,
 * tty) and the standard links, created only on a fresh /dev tmpfs, plus linux.devices from the
 * spec, created wherever they point.
 */
import type { OciDevice } from '@vfs/contracts';
import { step, type PlanStep } from './launch_plan';

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;

const DEFAULT_DEVICES: readonly OciDevice[] = [
  { type: 'c', path: '/dev/null', major: 1, minor: 3 },
  { type: 'c', path: '/dev/zero', major: 1, minor: 5 },
  { type: 'c', path: '/dev/full', major: 1, minor: 7 },
  { type: 'c', path: '/dev/random', major: 1, minor: 8 },
  { type: 'c', path: '/dev/urandom', major: 1, minor: 9 },
  { type: 'c', path: '/dev/tty', major: 5, minor: 0 },
];

const DEFAULT_LINKS: readonly (readonly [target: string, path: string])[] = [
  ['/proc/self/fd', '/dev/fd'],
  ['/proc/self/fd/0', '/dev/stdin'],
  ['/proc/self/fd/1', '/dev/stdout'],
  ['/proc/self/fd/2', '/dev/stderr'],
  ['pts/ptmx', '/dev/ptmx'],
];

function typeBits(type: OciDevice['type']): number {
  if (type === 'b') return S_IFBLK;
  if (type === 'p') return S_IFIFO;
  return S_IFCHR;
}

function deviceStep(device: OciDevice): PlanStep {
  const mode = typeBits(device.type) | (device.fileMode ?? 0o666);
  return step(
    'mknod',
    device.path,
    mode.toString(8),
    device.major ?? 0,
    device.minor ?? 0,
    device.uid ?? 0,
    device.gid ?? 0,
  );
}

export function deviceSteps(specDevices: readonly OciDevice[], populateDev: boolean): PlanStep[] {
  const defaults = populateDev
    ? [...DEFAULT_DEVICES.map(deviceStep), ...DEFAULT_LINKS.map(([target, path]) => step('symlink', target, path))]
    : [];
  return [...defaults, ...specDevices.map(deviceStep)];
}
