// A spare shim (contracts/src/warm_pool/spare_shim.ts). The warm pool runs
// `containerd-shim-vfs-v2 -id <spare id> spare`: it loads what a sandbox's shim runs (the server,
// the VM runtime, koffi), makes its dir with the two FIFOs, and waits. A `start`'s /bin/sh prologue
// claims it. The spare checks that it is the program and the Node that `start` would have run,
// takes the claimant's cgroups, working directory and environment, runs `start` on the claimant's
// stdin, answers containerd on the claimant's stdout, and then serves the sandbox as any shim does.
// Its pool hears of the claim on fd 3 (a socket pair); the end of that socket means the pool is
// gone, and an unclaimed spare then retires.

import {
  closeSync,
  constants,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { Socket } from 'node:net';
import { delimiter, join } from 'node:path';
import {
  errorMessage,
  formatSpareResult,
  runDir,
  SPARE_CLAIM_FIFO,
  SPARE_RESULT_FIFO,
  SPARE_RESULT_TIMEOUT_S,
  spareDir,
  spareShimsDir,
  type SpareResult,
  type SpareStage,
} from '@vfs/contracts';
import { joinsAnotherSandbox, type SandboxRuntimeLoader, start } from './bootstrap';
import { parseFlags, type ShimFlags } from './flags';
import { joinCgroupsOf } from './join_cgroups';
import { errnoName, libc } from './libc';
import { pidfdLibc } from './vm/libc_pidfd';
import { markShimBegan } from './shim_began';

/** The pool's end of a socket pair: the claim goes out on it, and its end means the pool is gone. */
const POOL_FD = 3;
/** An answer later than this would cross the prologue's own start of Node (it waits 10 s). */
const ANSWER_DEADLINE_MS = (SPARE_RESULT_TIMEOUT_S - 2) * 1000;
/** How long the result may wait for the prologue to open its end of the FIFO. */
const RESULT_OPEN_MS = 2000;

/** What the claimant is: the process containerd ran as `start`, read through /proc. */
interface Claimant {
  readonly pid: number;
  /** Copies of its stdin (containerd's runtime options) and stdout (where containerd reads the answer). */
  readonly stdin: number;
  readonly stdout: number;
  /** Its command line: /bin/sh, the program, containerd's flags and `start`. */
  readonly argv: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

/** Why a claim is turned down; `stale` spares retire, the others wait for the next claim. */
interface Refusal {
  readonly why: string;
  readonly stale: boolean;
}

function nulSeparated(path: string): string[] {
  const fields = readFileSync(path, 'latin1').split('\0');
  if (fields.at(-1) === '') fields.pop();
  return fields;
}

/**
 * Its stdin and stdout by pidfd_getfd(2) (containerd's are pipes; a test's may be sockets, which
 * /proc/<pid>/fd/N cannot open), then what /proc shows of it. The pidfd pins the process: a pid
 * reused meanwhile fails the copies.
 */
function claimantOf(pid: number): Claimant {
  const libc = pidfdLibc();
  const pidfd = libc.pidfdOpen(pid);
  if (pidfd < 0) throw new Error(`pidfd_open(${pid}): ${errnoName(-pidfd)}`);
  const fds: number[] = [];
  try {
    for (const fd of [0, 1]) {
      const copy = libc.pidfdGetfd(pidfd, fd);
      if (copy < 0) throw new Error(`pidfd_getfd(${pid}, ${fd}): ${errnoName(-copy)}`);
      fds.push(copy);
    }
    const env: NodeJS.ProcessEnv = {};
    for (const entry of nulSeparated(`/proc/${pid}/environ`)) {
      const eq = entry.indexOf('=');
      if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    const [stdin, stdout] = fds as [number, number];
    return {
      pid,
      stdin,
      stdout,
      argv: nulSeparated(`/proc/${pid}/cmdline`),
      env,
      cwd: readlinkSync(`/proc/${pid}/cwd`),
    };
  } catch (err) {
    for (const fd of fds) closeSync(fd);
    throw err;
  } finally {
    libc.close(pidfd);
  }
}

function release(claimant: Claimant): void {
  closeSync(claimant.stdin);
  closeSync(claimant.stdout);
}

/** containerd's flags from the claimant's command line; anything but a start is refused. */
function startFlags(claimant: Claimant): ShimFlags | Refusal {
  const flags = parseFlags(claimant.argv.slice(2), claimant.cwd);
  return flags.action === 'start' ? flags : { why: `claimed for ${flags.action}, not start`, stale: false };
}

/** The program's files as they are now: a rebuild changes one of them. */
function stampOf(program: string): string {
  return [program, `${program}.js`, `${program}.js.cache`]
    .map((file) => {
      try {
        const s = statSync(file);
        return `${s.ino}:${s.mtimeMs}:${s.size}`;
      } catch {
        return '-';
      }
    })
    .join(' ');
}

/** The `node` the prologue would run: the first on the claimant's PATH. */
function nodeOnPath(path: string | undefined): string | undefined {
  for (const dir of (path ?? '').split(delimiter)) {
    if (dir === '') continue;
    try {
      return realpathSync(join(dir, 'node'));
    } catch {
      // not in this dir
    }
  }
  return undefined;
}

class Spare {
  private readonly program = realpathSync(process.argv[1] as string);
  private readonly stamp = stampOf(this.program);
  private readonly node = realpathSync(process.execPath);
  private readonly pool = new Socket({ fd: POOL_FD, readable: true, writable: true });
  private claimFifo: Socket | undefined;
  private stage: SpareStage = 'loading';

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
    this.pool.on('error', () => this.poolGone());
    this.pool.on('end', () => this.poolGone());
    // Reading, or its end is never seen: the pool sends nothing else.
    this.pool.resume();
    mkdirSync(spareShimsDir(this.runDir), { recursive: true, mode: 0o700 });
    mkdirSync(this.dir(), { mode: 0o700 });
    const { lib, orErrno } = libc();
    const mkfifo = lib.func('int mkfifo(const char *path, unsigned int mode)');
    for (const fifo of [SPARE_CLAIM_FIFO, SPARE_RESULT_FIFO]) {
      const path = join(this.dir(), fifo);
      const result = orErrno(mkfifo(path, 0o600));
      if (result < 0) throw new Error(`mkfifo(${path}): ${errnoName(-result)}`);
    }
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
        if (newline < 0) return;
        const line = text.slice(0, newline);
        text = '';
        this.claimed(/^[1-9][0-9]*$/.test(line) ? Number(line) : 0).then((serving) => {
          if (serving !== undefined) resolve(serving);
        }, reject);
      });
    });
    this.moveTo('spare');
    return served;
  }

  /**
   * Serves the claimant (resolves whether this process serves); or answers a pod container's start
   * with its sandbox's address, or refuses, and stays a spare (undefined).
   */
  private async claimed(pid: number): Promise<boolean | undefined> {
    const claimedAt = Date.now();
    // The claimant renamed the dir: that is where the result FIFO is now.
    this.stage = 'claimed';
    let claimant: Claimant | undefined;
    let outcome: Refusal | ShimFlags;
    try {
      if (pid === 0) throw new Error('the claim names no pid');
      claimant = claimantOf(pid);
      outcome = this.refusal(claimant) ?? this.joinCgroups(claimant) ?? startFlags(claimant);
    } catch (err) {
      outcome = { why: `claimant ${pid}: ${errorMessage(err)}`, stale: false };
    }
    if (claimant !== undefined && 'action' in outcome) {
      if (!joinsAnotherSandbox(outcome)) return this.serve(claimant, outcome, claimedAt);
      await this.join(claimant, outcome);
    } else {
      if (claimant !== undefined) release(claimant);
      this.answer({ kind: 'refused', why: 'why' in outcome ? outcome.why : '' });
      if ('stale' in outcome && outcome.stale) this.retire(0);
    }
    this.moveTo('spare');
    return undefined;
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
    if (stampOf(this.program) !== this.stamp)
      return { why: `${this.program} changed since this spare started`, stale: true };
    const node = nodeOnPath(claimant.env.PATH);
    if (node !== this.node)
      return { why: `the claimant's node is ${node ?? 'not on its PATH'}, this spare's ${this.node}`, stale: false };
    if ((claimant.env.NODE_OPTIONS ?? '') !== (process.env.NODE_OPTIONS ?? ''))
      return { why: 'the claimant has other NODE_OPTIONS', stale: false };
    return undefined;
  }

  /** Where containerd put its start; a spare that cannot follow (or only half-way) retires. */
  private joinCgroups(claimant: Claimant): Refusal | undefined {
    try {
      joinCgroupsOf(claimant.pid);
      return undefined;
    } catch (err) {
      return { why: errorMessage(err), stale: true };
    }
  }

  /**
   * A pod's container joins its sandbox's shim: the start reads state and answers, and changes
   * nothing of this process, which stays a spare for the next sandbox.
   */
  private async join(claimant: Claimant, flags: ShimFlags): Promise<void> {
    try {
      const { answer } = await start(flags, this.loadRuntime, readFileSync(claimant.stdin));
      writeSync(claimant.stdout, answer);
      this.answer({ kind: 'ok' });
    } catch (err) {
      this.answer({ kind: 'failed', why: errorMessage(err) });
    } finally {
      release(claimant);
    }
  }

  /** Takes the claimant's place and serves; a failure past the checks is the start's failure. */
  private async serve(claimant: Claimant, flags: ShimFlags, claimedAt: number): Promise<boolean> {
    this.claimFifo?.destroy();
    this.tellPool();
    try {
      this.become(claimant, join(flags.bundle, 'shim.stderr'));
      markShimBegan(claimedAt);
      const { answer, serving } = await start(flags, this.loadRuntime, readFileSync(claimant.stdin));
      // Past the deadline the prologue has started Node itself, which finds this shim serving and
      // answers with its address: a second answer here would garble the first.
      if (Date.now() - claimedAt > ANSWER_DEADLINE_MS) throw new Error('claimed too late to answer');
      writeSync(claimant.stdout, answer);
      this.answer({ kind: 'ok' });
      return serving;
    } catch (err) {
      this.answer({ kind: 'failed', why: errorMessage(err) });
      throw err;
    } finally {
      release(claimant);
      this.removeDir();
    }
  }

  /** The claimant's OOM score, working directory, environment and output file. */
  private become(claimant: Claimant, stderrPath: string): void {
    writeFileSync('/proc/self/oom_score_adj', readFileSync(`/proc/${claimant.pid}/oom_score_adj`, 'latin1'));
    process.chdir(claimant.cwd);
    for (const key of Object.keys(process.env)) delete process.env[key];
    // The prologue unsets it before anything runs (scripts/bundle.cjs); environ still shows it.
    const { NODE_EXTRA_CA_CERTS: _, ...env } = claimant.env;
    Object.assign(process.env, env);
    // Where a shim started by the prologue writes its stdout and stderr.
    const out = openSync(stderrPath, 'w', 0o644);
    const { lib, orErrno } = libc();
    const dup2 = lib.func('int dup2(int oldfd, int newfd)');
    for (const fd of [1, 2]) {
      const result = orErrno(dup2(out, fd));
      if (result < 0) throw new Error(`dup2(${stderrPath}, ${fd}): ${errnoName(-result)}`);
    }
    closeSync(out);
  }

  /** One line to the waiting prologue; it gives up after its timeout, and so does this. */
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
        if ((err as NodeJS.ErrnoException).code !== 'ENXIO' || Date.now() > deadline) return;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
      }
    }
  }

  private tellPool(): void {
    this.pool.removeAllListeners('end');
    this.pool.removeAllListeners('error');
    this.pool.on('error', () => {});
    this.pool.end('claimed\n');
  }

  /** Its pool stopped without retiring it (killed): an unclaimed spare ends with it. */
  private poolGone(): void {
    if (this.stage === 'claimed') return;
    try {
      renameSync(this.dir(), this.dir('retired'));
    } catch {
      return; // a claimant renamed it first: that claim goes on
    }
    this.stage = 'retired';
    this.retire(0);
  }

  private moveTo(stage: SpareStage): void {
    renameSync(this.dir(), this.dir(stage));
    this.stage = stage;
  }

  private removeDir(): void {
    rmSync(this.dir(), { recursive: true, force: true });
  }

  private retire(code: number): never {
    this.removeDir();
    process.exit(code);
  }
}

/** Runs a spare until a claim made it a sandbox's shim (resolves true: it serves). */
export function runSpare(id: string, loadRuntime: SandboxRuntimeLoader): Promise<boolean> {
  if (!/^[0-9a-f]{8,32}$/.test(id)) throw new Error(`spare id "${id}": expected 8 to 32 hex digits`);
  return new Spare(runDir(), id, loadRuntime).run();
}
