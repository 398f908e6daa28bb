// A spare shim (contracts/src/warm_pool/spare_shim.ts). The warm pool runs
// `containerd-shim-vfs-v2 -id <spare id> spare`: it loads what a sandbox's shim runs (the server,
// the VM runtime, koffi), makes its dir with the two FIFOs and its pid, and waits. A `start`'s
// /bin/sh prologue claims it. The spare checks that it is the program and the Node that `start`
// would have run, in the same namespaces; takes the claimant's cgroups and limits
// (spare_claimant.ts); takes the start (mkdir `taken`); takes its directory, environment and
// stdin; answers containerd on its stdout; and serves the sandbox as any shim does. A pod
// container's start is answered without any of that, and the spare stays one. Its pool hears of a
// claim or a refusal on fd 3 (a socket pair), whose end means the pool is gone: a spare then
// retires, as it does on SIGTERM, unless it serves.

import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import {
  errorMessage,
  formatSpareResult,
  runDir,
  SPARE_CLAIM_FIFO,
  SPARE_PID_FILE,
  SPARE_RESULT_FIFO,
  spareDir,
  spareShimsDir,
  SPARE_RESULT_TIMEOUT_S,
  spareTakenDir,
  type SpareResult,
  type SpareStage,
} from '@vfs/contracts';
import { joinsAnotherSandbox, type SandboxRuntimeLoader, start } from './bootstrap';
import type { ShimFlags } from './flags';
import { errnoName, libc } from './libc';
import {
  type Claimant,
  claimantOf,
  nodeOnPath,
  programStamp,
  releaseClaimant,
  startFlags,
  takeResources,
  takeSession,
  untakable,
} from './spare_claimant';
import { markShimBegan } from './shim_began';

/** The pool's end of a socket pair: claims and refusals go out on it, and its end means the pool is gone. */
const POOL_FD = 3;
/** How long the result may wait for the prologue to open its end of the FIFO. */
const RESULT_OPEN_MS = 2000;

/** Why a claim is turned down; `stale` spares retire, the others wait for the next claim. */
interface Refusal {
  readonly why: string;
  readonly stale: boolean;
}

class Spare {
  private readonly program = realpathSync(process.argv[1] as string);
  private readonly stamp = programStamp(this.program);
  private readonly node = realpathSync(process.execPath);
  private readonly pool = new Socket({ fd: POOL_FD, readable: true, writable: true });
  private claimFifo: Socket | undefined;
  private stage: SpareStage = 'loading';
  /** A claim is being handled: the pool's end or a SIGTERM waits for it. */
  private busy = false;
  private poolLost = false;
  private readonly onSigterm = (): void => this.leave();

  constructor(
    private readonly runDir: string,
    private readonly id: string,
    private readonly loadRuntime: SandboxRuntimeLoader,
  ) {}

  private dir(stage: SpareStage = this.stage): string {
    return spareDir(this.runDir, this.id, stage);
  }

  /** Loads what serving will need, then opens for claims. Resolves once claimed and serving. */
  async run(): Promise<boolean> {
    this.pool.on('error', () => this.leave());
    this.pool.on('end', () => this.leave());
    // Reading, or its end is never seen: the pool sends nothing else.
    this.pool.resume();
    process.on('SIGTERM', this.onSigterm);
    mkdirSync(spareShimsDir(this.runDir), { recursive: true, mode: 0o700 });
    mkdirSync(this.dir(), { mode: 0o700 });
    const { lib, orErrno } = libc();
    const mkfifo = lib.func('int mkfifo(const char *path, unsigned int mode)');
    for (const fifo of [SPARE_CLAIM_FIFO, SPARE_RESULT_FIFO]) {
      const path = join(this.dir(), fifo);
      const result = orErrno(mkfifo(path, 0o600));
      if (result < 0) throw new Error(`mkfifo(${path}): ${errnoName(-result)}`);
    }
    // With its newline: the prologue's `read` fails on a last line without one.
    writeFileSync(join(this.dir(), SPARE_PID_FILE), `${process.pid}\n`);
    await Promise.all([import('./serve.js'), this.loadRuntime(), import('./cleanup.js')]);
    // Read-write: the FIFO never reports an end while the spare holds it, whoever writes.
    const fd = openSync(join(this.dir(), SPARE_CLAIM_FIFO), constants.O_RDWR | constants.O_NONBLOCK);
    const claims = new Socket({ fd, readable: true, writable: false });
    this.claimFifo = claims;
    const served = new Promise<boolean>((resolve, reject) => {
      let text = '';
      claims.on('data', (chunk: Buffer) => {
        text += chunk.toString('latin1');
        const newline = text.indexOf('\n');
        if (newline < 0 || this.busy) return;
        const line = text.slice(0, newline);
        text = '';
        this.busy = true;
        this.claimed(/^[1-9][0-9]*$/.test(line) ? Number(line) : 0).then((serving) => {
          if (serving !== undefined) resolve(serving);
        }, reject);
      });
    });
    this.moveTo('spare');
    return served;
  }

  /**
   * Serves the claimant (resolves true); or answers a pod container's start with its sandbox's
   * address, or refuses, and stays a spare (undefined).
   */
  private async claimed(pid: number): Promise<boolean | undefined> {
    const claimedAt = Date.now();
    // The claimant renamed the dir: that is where the result FIFO is now.
    this.stage = 'claimed';
    let claimant: Claimant;
    try {
      if (pid === 0) throw new Error('the claim names no pid');
      claimant = claimantOf(pid);
    } catch (err) {
      return this.refuse(pid, undefined, { why: `claimant ${pid}: ${errorMessage(err)}`, stale: false });
    }
    let flags: ShimFlags | string;
    let refusal: Refusal | undefined;
    try {
      flags = startFlags(claimant);
      refusal = typeof flags === 'string' ? { why: flags, stale: false } : this.refusal(claimant);
    } catch (err) {
      flags = errorMessage(err);
      refusal = { why: flags, stale: false };
    }
    if (refusal !== undefined || typeof flags === 'string')
      return this.refuse(pid, claimant, refusal ?? { why: String(flags), stale: false });
    if (joinsAnotherSandbox(flags)) {
      await this.join(claimant, flags);
      return this.backToReady(pid);
    }
    try {
      takeResources(claimant);
    } catch (err) {
      // Half-taken (some cgroups, some limits): this spare is no longer what the pool started.
      return this.refuse(pid, claimant, { why: errorMessage(err), stale: true });
    }
    return this.serve(claimant, flags, claimedAt);
  }

  private refusal(claimant: Claimant): Refusal | undefined {
    // A prologue that wrote its claim through its own stdout would have this spare answer into the FIFO.
    if (fstatSync(claimant.stdout).ino === statSync(join(this.dir(), SPARE_CLAIM_FIFO)).ino)
      return { why: "the claimant's stdout is the claim FIFO", stale: false };
    const script = claimant.argv[1];
    let program: string | undefined;
    try {
      program = script === undefined ? undefined : realpathSync(script);
    } catch {
      program = undefined;
    }
    if (program !== this.program)
      return { why: `claimed by ${script ?? 'no program'}, not ${this.program}`, stale: false };
    if (programStamp(this.program) !== this.stamp)
      return { why: `${this.program} changed since this spare started`, stale: true };
    const node = nodeOnPath(claimant.env.PATH);
    if (node !== this.node)
      return { why: `the claimant's node is ${node ?? 'not on its PATH'}, this spare's ${this.node}`, stale: false };
    if ((claimant.env.NODE_OPTIONS ?? '') !== (process.env.NODE_OPTIONS ?? ''))
      return { why: 'the claimant has other NODE_OPTIONS', stale: false };
    const other = untakable(claimant);
    return other === undefined ? undefined : { why: other, stale: false };
  }

  /** The claimed start is this spare's: false when the prologue, out of patience, gave it up first. */
  private take(claimant: Claimant): boolean {
    try {
      mkdirSync(join(this.dir(), spareTakenDir(claimant.pid)));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
  }

  private refuse(pid: number, claimant: Claimant | undefined, refusal: Refusal): undefined {
    if (claimant !== undefined) releaseClaimant(claimant);
    this.answer({ kind: 'refused', why: refusal.why });
    this.pool.write(`refused ${refusal.why.replace(/\n/g, ' ')}\n`);
    if (refusal.stale) this.retire();
    return this.backToReady(pid);
  }

  /**
   * A pod's container joins its sandbox's shim: the start reads state and answers, and changes
   * nothing of this process, which stays a spare for the next sandbox.
   */
  private async join(claimant: Claimant, flags: ShimFlags): Promise<void> {
    try {
      if (!this.take(claimant)) return;
      const { answer } = await start(flags, this.loadRuntime, readFileSync(claimant.stdin));
      writeSync(claimant.stdout, answer);
      this.answer({ kind: 'ok' });
    } catch (err) {
      this.answer({ kind: 'failed', why: errorMessage(err) });
    } finally {
      releaseClaimant(claimant);
    }
  }

  /** Takes the claimant's place and serves; a failure past the checks is the start's failure. */
  private async serve(claimant: Claimant, flags: ShimFlags, claimedAt: number): Promise<boolean> {
    if (!this.take(claimant)) {
      releaseClaimant(claimant);
      this.retire();
    }
    this.claimFifo?.destroy();
    process.off('SIGTERM', this.onSigterm);
    this.pool.end('claimed\n');
    try {
      takeSession(claimant, join(flags.bundle, 'shim.stderr'));
      markShimBegan(claimedAt);
      const { answer, serving } = await start(flags, this.loadRuntime, readFileSync(claimant.stdin));
      writeSync(claimant.stdout, answer);
      this.answer({ kind: 'ok' });
      return serving;
    } catch (err) {
      this.answer({ kind: 'failed', why: errorMessage(err) });
      throw err;
    } finally {
      releaseClaimant(claimant);
      this.removeDir();
    }
  }

  /** One line to the waiting prologue; one that has stopped waiting is told on stderr instead. */
  private answer(result: SpareResult): void {
    const path = join(this.dir(), SPARE_RESULT_FIFO);
    const deadline = Date.now() + RESULT_OPEN_MS;
    for (;;) {
      try {
        // Non-blocking: ENXIO until the prologue's `cat` has its end open.
        const fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
        try {
          writeSync(fd, formatSpareResult(result));
        } finally {
          closeSync(fd);
        }
        return;
      } catch (err) {
        // ENXIO: no reader yet; EPIPE: the prologue's first wait ended as this wrote, its second
        // is about to open.
        const code = (err as NodeJS.ErrnoException).code;
        if ((code !== 'ENXIO' && code !== 'EPIPE') || Date.now() > deadline) {
          const line = formatSpareResult(result).trim();
          writeSync(2, `spare shim ${this.id}: no prologue took the result "${line}": ${errorMessage(err)}\n`);
          return;
        }
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
      }
    }
  }

  /** Ready for the next claim; a spare whose pool went (or was stopped) meanwhile retires now. */
  private backToReady(claimantPid: number): undefined {
    rmSync(join(this.dir(), spareTakenDir(claimantPid)), { recursive: true, force: true });
    this.moveTo('spare');
    this.busy = false;
    if (this.poolLost) this.leave();
    return undefined;
  }

  /** Its pool stopped it or went away: an unclaimed spare retires, one handling a claim does after it. */
  private leave(): void {
    this.poolLost = true;
    if (this.busy) return;
    try {
      renameSync(this.dir(), this.dir('retired'));
    } catch {
      // Retired by the pool already, or a claimant renamed it first: that claim goes on, and ends
      // here; a claimant that died before it wrote its pid never will, so this one waits no longer.
      if (!existsSync(this.dir('retired'))) {
        this.stage = 'claimed';
        setTimeout(() => this.busy || this.retire(), 2 * SPARE_RESULT_TIMEOUT_S * 1000);
        return;
      }
    }
    this.stage = 'retired';
    this.retire();
  }

  private moveTo(stage: SpareStage): void {
    renameSync(this.dir(), this.dir(stage));
    this.stage = stage;
  }

  private removeDir(): void {
    rmSync(this.dir(), { recursive: true, force: true });
  }

  private retire(): never {
    this.removeDir();
    process.exit(0);
  }
}

/** Runs a spare until a claim made it a sandbox's shim (resolves true: it serves). */
export function runSpare(id: string, loadRuntime: SandboxRuntimeLoader): Promise<boolean> {
  if (!/^[0-9a-f]{8,32}$/.test(id)) throw new Error(`spare id "${id}": expected 8 to 32 hex digits`);
  return new Spare(runDir(), id, loadRuntime).run();
}
