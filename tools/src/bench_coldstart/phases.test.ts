import type { SandboxTimings } from '@vfs/shim/vm';
import { parseBenchArgs } from './bench_args';
import { PHASES, runPhases } from './phases';
import { parseTimings } from './timings_file';

const T0 = 1_000_000;

function timings(guest: SandboxTimings['guest']): SandboxTimings {
  return {
    sandboxId: 'c1',
    host: {
      shimStart: T0 + 100,
      createCalled: T0 + 250,
      daemonSpawned: T0 + 260,
      daemonReady: T0 + 400,
      qemuSpawned: T0 + 420,
      agentReady: T0 + 3420,
      sandboxCreated: T0 + 3450,
      containerCreated: T0 + 3550,
      containerStarted: T0 + 3600,
      exitSeen: T0 + 3700,
    },
    guest,
  };
}

const RUN = { startWallMs: T0, endWallMs: T0 + 4000, ms: 4000 };

describe('runPhases', () => {
  it('anchors /init on the agent-ready pair and adds up to the run', () => {
    const split = runPhases(RUN, timings({ initStartS: 1.0, agentLaunchS: 1.2, agentStartedS: 1.2, agentReadyS: 2.5 }));
    expect(split.anchor).toBe('agent-ready');
    // /init at host agentReady − 1.5 s = T0 + 1920.
    expect(split.phases.kernel_to_init).toBeCloseTo(1500);
    expect(split.phases.agent_ready).toBeCloseTo(1500);
    expect(split.details.qemu_before_guest_clock).toBeCloseTo(500);
    expect(split.details.agent_started_to_ready).toBeCloseTo(1300);
    expect([split.details.create_sandbox, split.details.create_container, split.details.create_to_start]).toEqual([
      30, 100, 50,
    ]);
    const sum = PHASES.reduce((total, p) => total + (split.phases[p.key] ?? 0), 0);
    expect(sum).toBeCloseTo(RUN.ms);
  });

  it('falls back to QEMU spawn as guest uptime 0 without the agent times', () => {
    const split = runPhases(RUN, timings({ initStartS: 1.0 }));
    expect(split.anchor).toBe('qemu-spawn');
    expect(split.phases.kernel_to_init).toBeCloseTo(1000);
    expect(split.details.qemu_before_guest_clock).toBeUndefined();
  });

  it('takes the daemon off the path when it started beside QEMU, ready before QEMU or after it', () => {
    const t = timings({ initStartS: 1.0, agentLaunchS: 1.2, agentStartedS: 1.2, agentReadyS: 2.5 });
    const beside = { ...t, host: { ...t.host, qemuSpawned: T0 + 330, daemonReady: T0 + 400, sharesPlugged: T0 + 430 } };
    const split = runPhases(RUN, beside);
    expect(split.phases.daemon_ready).toBe(0);
    expect(split.phases.qemu_spawned).toBe(230);
    expect(split.details.daemon_spawn_to_ready).toBe(140);
    expect(split.details.plug_shares).toBe(30);
    expect(PHASES.reduce((total, p) => total + (split.phases[p.key] ?? 0), 0)).toBeCloseTo(RUN.ms);
    const first = runPhases(RUN, { ...beside, host: { ...beside.host, daemonReady: T0 + 300 } });
    expect([first.phases.daemon_ready, first.phases.qemu_spawned, first.details.plug_shares]).toEqual([0, 230, 100]);
    expect(PHASES.reduce((total, p) => total + (first.phases[p.key] ?? 0), 0)).toBeCloseTo(RUN.ms);
  });

  it('times the copy and the resume of a VM template, the resume ending where QEMU counts as spawned', () => {
    const t = timings({});
    const resumed = {
      ...t,
      host: {
        ...t.host,
        templateCopyBegan: T0 + 150,
        templateCopied: T0 + 190,
        qemuSpawned: T0 + 330,
        sharesPlugged: T0 + 430,
      },
    };
    const split = runPhases(RUN, resumed);
    expect([split.details.copy_template, split.details.resume_template]).toEqual([40, 140]);
    expect(split.phases.kernel_to_init).toBeUndefined();
    expect(PHASES.reduce((total, p) => total + (split.phases[p.key] ?? 0), 0)).toBeCloseTo(RUN.ms);
  });

  it('leaves out what it cannot place', () => {
    const split = runPhases(RUN, timings({}));
    expect(split.anchor).toBe('none');
    expect(split.phases.kernel_to_init).toBeUndefined();
    // A pooled VM: QEMU (QMP) → the agent's Check, so the phases still add up to the run.
    expect(split.phases.agent_ready).toBe(3000);
    expect(PHASES.reduce((total, p) => total + (split.phases[p.key] ?? 0), 0)).toBeCloseTo(RUN.ms);
    expect(split.phases.teardown).toBe(300);
  });
});

describe('parseTimings', () => {
  it('keeps the known numeric fields only', () => {
    const parsed = parseTimings(
      JSON.stringify({
        sandboxId: 'x',
        host: { shimStart: 5, qemuSpawned: 7, bogus: 1, agentReady: 'no' },
        guest: { initStartS: 0.9 },
      }),
    );
    expect(parsed).toEqual({ sandboxId: 'x', host: { shimStart: 5, qemuSpawned: 7 }, guest: { initStartS: 0.9 } });
  });
});

describe('parseBenchArgs', () => {
  it('has defaults and rejects bad counts', () => {
    expect(parseBenchArgs([])).toEqual({ runs: 10, warmup: 1, jsonPath: undefined, skipVfs: false });
    expect(parseBenchArgs(['--runs', '3', '--json', 'o.json'])).toMatchObject({ runs: 3, jsonPath: 'o.json' });
    expect(() => parseBenchArgs(['--runs', '0'])).toThrow(/--runs must be an integer >= 1/);
  });
});
