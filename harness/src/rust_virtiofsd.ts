// The Rust virtiofsd of Debian trixie (1.13), the peer users run today, installed on demand under
// build/rust-virtiofsd by scripts/install-rust-virtiofsd.sh (trixie's binary with trixie's own
// loader and libraries, since it needs a newer glibc than bookworm's). bench-daemon, bench-guest
// and the parity test start it through the launcher this returns.

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './repo';

export const RUST_VIRTIOFSD = join(REPO_ROOT, 'build', 'rust-virtiofsd', 'virtiofsd');
const INSTALLER = join(REPO_ROOT, 'scripts', 'install-rust-virtiofsd.sh');

/** The launcher's path; downloads and unpacks it first when missing (~25 s, needs the network). */
export function ensureRustVirtiofsd(): string {
  if (existsSync(RUST_VIRTIOFSD)) return RUST_VIRTIOFSD;
  execFileSync('bash', [INSTALLER], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (!existsSync(RUST_VIRTIOFSD)) throw new Error(`${INSTALLER} left no ${RUST_VIRTIOFSD}`);
  return RUST_VIRTIOFSD;
}
