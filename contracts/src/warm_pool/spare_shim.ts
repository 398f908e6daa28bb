// Spare shims: the warm pool keeps shim processes started and loaded, and containerd's `start` of a
// new sandbox hands itself to one instead of starting Node (≈ 50 ms on the host, on the path of
// every `ctr run`). Three parties speak this: the pool spawns spares (shim/src/pool/spare_shims.ts),
// a spare waits to be claimed (shim/src/spare_shim.ts), and the shim program's /bin/sh prologue
// claims one (scripts/bundle.cjs; shim/src/start_prologue.test.ts holds it to these names).
//
// Under <run>/spare-shims (root only), each spare has a directory named for its id and its stage:
// - `<id>.loading`: the spare is starting; nothing may claim it;
// - `<id>.spare`: ready; it holds the FIFOs `claim` and `result` and the file `pid` (its own), and
//   holds `claim` open for reading (so no claim is lost);
// - `<id>.claimed`: a prologue renamed it, which only one can do (rename(2) is atomic), after
//   `kill -0` of `pid` found the spare alive; it wrote its own pid into `claim` (opened read-write:
//   a FIFO never blocks that open) and waits on `result`;
// - `<id>.retired`: the pool, or the spare itself (stopped, or its pool gone), renamed it first.
// Who owns a claimed start is settled by one more atomic step, mkdir of `<id>.claimed/taken.<the
// claimant's pid>`: the spare makes it before it touches the start's stdin or stdout; a prologue
// whose wait ran out makes it before it starts Node itself, and otherwise waits once more, then
// fails the start. Whoever fails to make it leaves the start to the other. A claimed dir stays
// until its spare has its answer out; one whose spare died is the pool's to remove, later.
// The spare reads the prologue's command line, environment and working directory through
// /proc/<pid>, copies its stdin and stdout (pidfd_getfd), answers containerd on that stdout, and
// writes one line to `result`: `ok` (the prologue exits 0), `refused <why>` before it took the start
// (the prologue starts Node as without spares), or `failed <why>` (the prologue prints <why> and
// exits 1, as a failed start does). A spare tells its pool `claimed` (it serves a sandbox now) or
// `refused <why>` on its socket (fd 3).

import { join } from 'node:path';

export const SPARE_STAGES = ['loading', 'spare', 'claimed', 'retired'] as const;
export type SpareStage = (typeof SPARE_STAGES)[number];

export const SPARE_CLAIM_FIFO = 'claim';
export const SPARE_RESULT_FIFO = 'result';
/** The spare's pid, for the prologue's `kill -0`: a spare killed outright leaves its dir. */
export const SPARE_PID_FILE = 'pid';
/** The directory whose mkdir takes a claimed start (the spare) or gives it up (the prologue). */
export function spareTakenDir(claimantPid: number): string {
  return `taken.${claimantPid}`;
}
/** How long a prologue waits on `result` before it starts the shim itself (and again, once, if the spare took the start). */
export const SPARE_RESULT_TIMEOUT_S = 10;

export type SpareResult =
  | { readonly kind: 'ok' }
  | { readonly kind: 'refused'; readonly why: string }
  | { readonly kind: 'failed'; readonly why: string };

/** The spares' directory under the run dir (run_dir.ts). */
export function spareShimsDir(runDir: string): string {
  return join(runDir, 'spare-shims');
}

/** A spare's directory at one stage. */
export function spareDir(runDir: string, id: string, stage: SpareStage): string {
  return join(spareShimsDir(runDir), `${id}.${stage}`);
}

/** The one line a spare writes to `result`; messages keep to one line. */
export function formatSpareResult(result: SpareResult): string {
  if (result.kind === 'ok') return 'ok\n';
  return `${result.kind} ${result.why.replace(/\s*\n\s*/g, ' ')}\n`;
}

/** A spare's directory name: its id and stage, or undefined for anything else found there. */
export function parseSpareDirName(name: string): { readonly id: string; readonly stage: SpareStage } | undefined {
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const stage = name.slice(dot + 1);
  const known = SPARE_STAGES.find((s) => s === stage);
  return known === undefined ? undefined : { id: name.slice(0, dot), stage: known };
}
