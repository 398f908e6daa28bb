import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentClient } from './agent_dial';
import { consoleBootTimes } from './guest_boot_times';
import { phaseClock, TIMINGS_DIR_ENV } from './phase_clock';

const CONSOLE = '[    0.2] PCI: Fatal\nvfs-init: start 0.95\nvfs-init: agent /dev/vport3p1 1.19\n';

function fakeAgent(details: () => Promise<{ agentStartedNs: number; agentReadyNs: number }>): AgentClient {
  return { getGuestDetails: details } as unknown as AgentClient;
}

describe('phase clock', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vfs-phase-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads /init markers from the console', () => {
    expect(consoleBootTimes(CONSOLE)).toEqual({ initStartS: 0.95, agentLaunchS: 1.19 });
    expect(consoleBootTimes('')).toEqual({ initStartS: undefined, agentLaunchS: undefined });
  });

  it('writes host marks and guest times once, when VFS_TIMINGS_DIR is set', async () => {
    const consoleLog = join(dir, 'console.log');
    writeFileSync(consoleLog, CONSOLE);
    const clock = phaseClock('c/1', consoleLog, { [TIMINGS_DIR_ENV]: dir });
    const now = jest.spyOn(Date, 'now').mockReturnValueOnce(100).mockReturnValueOnce(200).mockReturnValueOnce(300);
    clock.mark('daemonReady');
    clock.mark('qemuSpawned');
    clock.mark('daemonReady');
    now.mockRestore();
    const agent = fakeAgent(async () => ({ agentStartedNs: 1.19e9, agentReadyNs: 2.26e9 }));
    await clock.save(agent);
    await clock.save(agent);
    expect(readdirSync(dir).sort()).toEqual(['c%2F1.json', 'console.log']);
    const saved = JSON.parse(readFileSync(join(dir, 'c%2F1.json'), 'utf8')) as {
      host: Record<string, number>;
      guest: Record<string, number>;
    };
    expect(saved.host).toEqual({ shimStart: Math.round(performance.timeOrigin), daemonReady: 100, qemuSpawned: 200 });
    expect(saved.guest).toEqual({
      initStartS: 0.95,
      agentLaunchS: 1.19,
      agentStartedS: 1.19,
      agentReadyS: 2.26,
    });
  });

  it('saves without the agent times when GetGuestDetails fails, and writes nothing when off', async () => {
    const consoleLog = join(dir, 'console.log');
    writeFileSync(consoleLog, CONSOLE);
    const failing = fakeAgent(async () => {
      throw new Error('unimplemented');
    });
    await phaseClock('c2', consoleLog, { [TIMINGS_DIR_ENV]: dir }).save(failing);
    expect(JSON.parse(readFileSync(join(dir, 'c2.json'), 'utf8'))).toMatchObject({
      sandboxId: 'c2',
      guest: { initStartS: 0.95, agentLaunchS: 1.19 },
    });
    await phaseClock('c3', consoleLog, {}).save(failing);
    expect(readdirSync(dir).sort()).toEqual(['c2.json', 'console.log']);
  });

  it('does not ask the agent of a VM booted elsewhere (no /init start in this console)', async () => {
    let asked = 0;
    const agent = fakeAgent(async () => {
      asked += 1;
      return { agentStartedNs: 1e9, agentReadyNs: 2e9 };
    });
    await phaseClock('pooled', join(dir, 'none.log'), { [TIMINGS_DIR_ENV]: dir }).save(agent);
    expect(asked).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'pooled.json'), 'utf8'))).toMatchObject({ guest: {} });
  });
});
