/**
 * Self-test mode: runs a JSON scenario of container operations against the runtime core in a
 * real guest and prints one JSON document of results on stdout. Every step reports ok/value or
 * its typed error, so a failing step (a malformed spec, a missing binary) is itself a checkable
 * result and the run goes on, as the agent would keep serving.
 *
 * Scenario: { "steps": [ { "op": …, "id": …, "exec"?: … , op-specific fields } ] }
 *   create {spec, rootfs} · start · exec {process} · write {data, close?} · waitOutput {text}
 *   signal {signal} · wait · pause · resume · stats · pids · resize {rows, cols} · kill · delete
 *   status
 */
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { arrayOf, bool, int, obj, opt, str, type Check } from './oci/json_check';
import { parseProcess, parseSpec } from './oci/spec';
import type { RuntimeOptions } from './container/container';
import { ContainerRegistry } from './container/container_registry';
import type { ContainerProcess } from './container/container_process';
import { ContainerError } from './container/errors';
import type { RootfsSpec } from './container/rootfs';
import type { AgentTimestamps } from './timestamps';

interface ScenarioStep {
  readonly op: string;
  readonly id: string;
  readonly exec?: string;
  readonly spec?: unknown;
  readonly rootfs?: unknown;
  readonly process?: unknown;
  readonly data?: string;
  readonly close?: boolean;
  readonly text?: string;
  readonly signal?: number;
  readonly rows?: number;
  readonly cols?: number;
}

const anything: Check<unknown> = (value) => value;

const checkStep = obj<ScenarioStep>({
  op: str,
  id: str,
  exec: opt(str),
  spec: anything,
  rootfs: anything,
  process: anything,
  data: opt(str),
  close: opt(bool),
  text: opt(str),
  signal: opt(int(1, 64)),
  rows: opt(int(0, 0xffff)),
  cols: opt(int(0, 0xffff)),
});

const checkScenario = obj<{ steps: ScenarioStep[] }>({ steps: arrayOf(checkStep) });

const checkRootfs: Check<RootfsSpec> = (value, path) => {
  const { kind } = obj<{ kind: string }>({ kind: str })(value, path);
  if (kind === 'bind') return obj<{ kind: 'bind'; source: string }>({ kind: () => 'bind', source: str })(value, path);
  return obj<{ kind: 'overlay'; lowerDirs: string[]; upperDir: string; workDir: string }>({
    kind: () => 'overlay',
    lowerDirs: arrayOf(str),
    upperDir: str,
    workDir: str,
  })(value, path);
};

const OUTPUT_DRAIN_MS = 2000;
const STEP_TIMEOUT_MS = 15_000;

/** stdout/stderr of one process, collected from its creation on. */
class Collected {
  stdout = '';
  stderr = '';
  private readonly ended: Promise<void>[] = [];
  private waiters: (() => void)[] = [];

  constructor(proc: ContainerProcess) {
    this.collect(proc.io.stdout, (text) => (this.stdout += text));
    if (proc.io.stderr) this.collect(proc.io.stderr, (text) => (this.stderr += text));
  }

  private collect(stream: Readable, append: (text: string) => void): void {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      append(chunk);
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.ended.push(new Promise((resolve) => stream.once('close', () => resolve())));
  }

  async waitFor(text: string): Promise<void> {
    while (!this.stdout.includes(text)) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** Output normally ends with the process; a grandchild holding it open is cut off. */
  async drained(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), OUTPUT_DRAIN_MS);
    });
    const done = await Promise.race([Promise.all(this.ended).then(() => true), timeout]);
    clearTimeout(timer);
    return done;
  }
}

interface StepResult {
  readonly op: string;
  readonly id: string;
  readonly exec?: string;
  readonly ok: boolean;
  readonly ms: number;
  readonly value?: unknown;
  readonly error?: { readonly name: string; readonly code?: string; readonly errno?: string; readonly message: string };
}

class Runner {
  private readonly registry: ContainerRegistry;
  private readonly outputs = new Map<string, Collected>();

  constructor(options: RuntimeOptions) {
    this.registry = new ContainerRegistry(options);
  }

  /** A step that hangs is a failed step, not a hung run. */
  async run(step: ScenarioStep): Promise<StepResult> {
    const started = performance.now();
    const base = { op: step.op, id: step.id, exec: step.exec };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`step timed out after ${STEP_TIMEOUT_MS} ms`)), STEP_TIMEOUT_MS);
    });
    let result: StepResult;
    try {
      const value = await Promise.race([this.perform(step), timeout]);
      result = { ...base, ok: true, ms: Math.round(performance.now() - started), value };
    } catch (err) {
      result = { ...base, ok: false, ms: Math.round(performance.now() - started), error: describeError(err) };
    } finally {
      clearTimeout(timer);
    }
    process.stderr.write(`selftest: ${step.op} ${step.id}${step.exec ? `/${step.exec}` : ''} ${result.ok ? 'ok' : 'failed'} ${result.ms} ms\n`);
    return result;
  }

  private key(step: ScenarioStep): string {
    return `${step.id}/${step.exec ?? ''}`;
  }

  private output(step: ScenarioStep): Collected {
    const collected = this.outputs.get(this.key(step));
    if (collected === undefined) throw new Error(`no output collected for ${this.key(step)}`);
    return collected;
  }

  private async perform(step: ScenarioStep): Promise<unknown> {
    switch (step.op) {
      case 'create': {
        const container = await this.registry.create({ id: step.id, spec: parseSpec(step.spec), rootfs: checkRootfs(step.rootfs, '$.rootfs') });
        this.outputs.set(this.key(step), new Collected(container.init));
        return { pid: container.init.pid };
      }
      case 'exec': {
        const proc = await this.registry.get(step.id).exec(step.exec ?? '', parseProcess(step.process));
        this.outputs.set(this.key(step), new Collected(proc));
        return { pid: proc.pid };
      }
      default:
        return this.performOnContainer(step);
    }
  }

  private async performOnContainer(step: ScenarioStep): Promise<unknown> {
    const container = this.registry.get(step.id);
    switch (step.op) {
      case 'start':
        return container.start();
      case 'write': {
        const proc = container.process(step.exec);
        if (step.data !== undefined) proc.io.stdin.write(step.data);
        if (step.close === true) proc.closeStdin();
        return undefined;
      }
      case 'waitOutput':
        return this.output(step).waitFor(step.text ?? '');
      case 'signal':
        return container.signal(step.signal ?? 15, step.exec);
      case 'wait': {
        const exit = await container.wait(step.exec);
        const out = this.output(step);
        const drained = await out.drained();
        return { status: exit.status, exitedAt: exit.exitedAt.toISOString(), stdout: out.stdout, stderr: out.stderr, drained };
      }
      case 'pause':
        return container.pause();
      case 'resume':
        return container.resume();
      case 'stats':
        return container.stats();
      case 'pids':
        return container.pids();
      case 'resize':
        return container.resize(step.rows ?? 24, step.cols ?? 80, step.exec);
      case 'kill':
        return container.kill();
      case 'delete':
        return this.registry.delete(step.id);
      case 'status':
        return container.status;
      default:
        throw new Error(`unknown selftest op "${step.op}"`);
    }
  }
}

function describeError(err: unknown): NonNullable<StepResult['error']> {
  if (err instanceof ContainerError) {
    return { name: err.name, code: err.code, errno: err.errnoName, message: err.message };
  }
  const e = err instanceof Error ? err : new Error(String(err));
  return { name: e.name, message: e.message };
}

export async function runSelftestFile(
  path: string,
  options: RuntimeOptions,
  markReady: () => AgentTimestamps,
): Promise<never> {
  const timestamps = markReady();
  const scenario = checkScenario(JSON.parse(readFileSync(path, 'utf8')), '$');
  const runner = new Runner(options);
  const results: StepResult[] = [];
  for (const step of scenario.steps) results.push(await runner.run(step));
  process.stdout.write(`${JSON.stringify({ timestamps, results })}\n`);
  // Processes a timed-out step left behind must not keep the agent alive.
  process.exit(0);
}
