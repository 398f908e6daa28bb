// The pool's bookkeeping with booted VMs stood in by handles (the real VMs are e2e/warm_pool):
// hand-out order, refill (after its delay), no VM twice, configuration mismatch, lost VMs replaced,
// boot failures retried and reported, stop discarding what is left.
import { setTimeout as sleep } from 'node:timers/promises';
import type { PooledVm } from '@vfs/contracts';
import pino from 'pino';
import type { PoolVmHandle } from './pool_vm';
import { WarmPool } from './warm_pool';

const log = pino({ level: 'silent' });

interface FakeVm extends PoolVmHandle {
  handedOver: number;
  discarded: number;
  die(why: string): void;
}

function fakeVm(id: string): FakeVm {
  let die: (why: string) => void = () => undefined;
  const vm: FakeVm = {
    id,
    qemuPid: 1000,
    lost: new Promise((resolve) => {
      die = resolve;
    }),
    handedOver: 0,
    discarded: 0,
    die: (why) => die(why),
    handOver: () => {
      vm.handedOver += 1;
      return { id, fingerprint: 'fp' } as PooledVm;
    },
    discard: async () => {
      vm.discarded += 1;
    },
  };
  return vm;
}

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await sleep(5);
  }
  throw new Error(`never: ${what}`);
}

function counter(): () => string {
  let n = 0;
  return () => `vm${n++}`;
}

describe('WarmPool', () => {
  let booted: FakeVm[];
  let pool: WarmPool;

  function makePool(size: number, boot?: (id: string) => Promise<PoolVmHandle>, refillDelayMs = 0): WarmPool {
    booted = [];
    pool = new WarmPool(
      { size, refillDelayMs },
      'fp',
      boot ??
        (async (id) => {
          const vm = fakeVm(id);
          booted.push(vm);
          return vm;
        }),
      counter(),
      log,
    );
    pool.start();
    return pool;
  }

  afterEach(async () => {
    await pool.stop();
  });

  it('fills to its size, one boot at a time', async () => {
    makePool(3);
    await until('three ready', () => pool.status().vms.length === 3);
    await sleep(20);
    expect(booted.map((vm) => vm.id)).toEqual(['vm0', 'vm1', 'vm2']);
    expect(pool.status().vms.every((vm) => vm.state === 'ready')).toBe(true);
  });

  it('hands out the oldest ready VM once, forgets it, and boots a replacement', async () => {
    makePool(2);
    await until('two ready', () => pool.status().vms.length === 2);
    const first = pool.take('fp', 'sandbox-a');
    const second = pool.take('fp', 'sandbox-b');
    expect([first.vm?.id, second.vm?.id]).toEqual(['vm0', 'vm1']);
    expect(booted[0]?.handedOver).toBe(1);
    await until('refilled', () => pool.status().vms.filter((vm) => vm.state === 'ready').length === 2);
    const ids = pool.status().vms.map((vm) => vm.id);
    expect(ids).not.toContain('vm0');
    expect(ids).not.toContain('vm1');
    expect(pool.status().handedOut).toBe(2);
    expect(booted.every((vm) => vm.handedOver <= 1)).toBe(true);
  });

  it('boots the replacement only once the refill delay after a hand-out has passed', async () => {
    makePool(2, undefined, 400);
    await until('two ready', () => pool.status().vms.length === 2);
    const takenAt = Date.now();
    pool.take('fp', 'sandbox-a');
    await sleep(300);
    // A second hand-out within the delay does not push the refill further out (to ≥ 700 ms).
    pool.take('fp', 'sandbox-b');
    expect(booted).toHaveLength(2);
    await until('a replacement booted', () => booted.length >= 3);
    expect(Date.now() - takenAt).toBeGreaterThanOrEqual(400);
    expect(Date.now() - takenAt).toBeLessThan(700);
    await until('refilled', () => pool.status().vms.length === 2);
  });

  it('answers an empty pool with the reason instead of waiting', async () => {
    let finish: (vm: PoolVmHandle) => void = () => undefined;
    makePool(1, (id) => new Promise((resolve) => (finish = () => resolve(fakeVm(id)))));
    await until('booting', () => pool.status().vms.length === 1);
    const taken = pool.take('fp', 'sandbox');
    expect(taken.vm).toBeUndefined();
    expect(taken).toEqual({ reason: 'no ready VM (one booting, size 1)' });
    finish(fakeVm('unused'));
  });

  it('keeps its VMs from a shim with another configuration', async () => {
    makePool(1);
    await until('one ready', () => pool.status().vms.length === 1);
    expect(pool.take('other', 'sandbox')).toEqual({
      reason: "the pool serves another configuration (fp, the shim's is other)",
    });
    expect(booted[0]?.handedOver).toBe(0);
    expect(pool.status().vms).toHaveLength(1);
  });

  it('replaces a VM that dies while waiting, and cleans it up', async () => {
    makePool(1);
    await until('one ready', () => pool.status().vms.length === 1);
    booted[0]?.die('QEMU exited');
    await until('replaced', () => pool.status().vms.some((vm) => vm.id === 'vm1' && vm.state === 'ready'));
    expect(booted[0]?.discarded).toBe(1);
    expect(pool.take('fp', 'sandbox').vm?.id).toBe('vm1');
  });

  it('retries a failing boot and reports the last failure', async () => {
    let attempts = 0;
    makePool(1, async (id) => {
      attempts += 1;
      if (attempts === 1) throw new Error('QEMU: cannot open the kernel');
      const vm = fakeVm(id);
      booted.push(vm);
      return vm;
    });
    await until('a failure', () => pool.status().bootFailures === 1);
    expect(pool.status().lastError).toBe('QEMU: cannot open the kernel');
    await until('ready after the retry', () => pool.status().vms.some((vm) => vm.state === 'ready'));
  }, 10_000);

  it('discards every VM still in the pool when stopped, and a boot finishing after stop', async () => {
    let finish: (vm: PoolVmHandle) => void = () => undefined;
    const late = fakeVm('late');
    let calls = 0;
    makePool(2, async (id) => {
      calls += 1;
      if (calls === 2)
        return new Promise((resolve) => {
          finish = resolve;
        });
      const vm = fakeVm(id);
      booted.push(vm);
      return vm;
    });
    await until('one ready, one booting', () => pool.status().vms.length === 2);
    const stopping = pool.stop();
    finish(late);
    await stopping;
    expect(booted[0]?.discarded).toBe(1);
    expect(late.discarded).toBe(1);
    expect(pool.take('fp', 'sandbox').vm).toBeUndefined();
  });
});
