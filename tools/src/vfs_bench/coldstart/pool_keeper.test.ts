import { applyFlags, type Cell, defaultMatrix, expandMatrix, type Machine } from './matrix';
import { poolBootsMs, poolSize, poolTakers, shimPoolLines, vmShape } from './pool_keeper';

describe('the warm pool of the pool-on cells', () => {
  const cells = expandMatrix(
    applyFlags(defaultMatrix(), { machine: 'microvm,q35', pool: 'on,off', concurrency: '1,4' }),
  );
  const shapeOf = (machine: Machine): string => vmShape({ ...(cells[0] as Cell).config, machine });

  it('gives cells that differ only in pool, image or K the same VM shape, so one pool serves them', () => {
    const microvm = cells.filter((c) => c.config.machine === 'microvm').map((c) => vmShape(c.config));
    expect(new Set(microvm).size).toBe(1);
    expect(shapeOf('microvm')).not.toBe(shapeOf('q35'));
  });

  it('stops the pool before a pool-off cell whose shims would take its VMs, template or not', () => {
    const config = (cells[0] as Cell).config;
    const resumed = { ...config, template: true };
    const booted = { ...config, template: false };
    expect(vmShape(resumed)).not.toBe(vmShape(booted));
    expect(poolTakers(resumed)).toBe(poolTakers(booted));
    expect(poolTakers({ ...config, cache: 'none' })).not.toBe(poolTakers({ ...config, cache: 'auto' }));
  });

  it('sizes a shape’s pool to the largest K among its pool-on cells, and none without one', () => {
    expect(poolSize(cells, shapeOf('microvm'))).toBe(4);
    const offOnly = cells.filter((c) => !c.config.pool);
    expect(poolSize(offOnly, shapeOf('microvm'))).toBe(0);
  });

  it('reads the boot times from the pool log’s ready lines and ignores anything else', () => {
    const log = [
      '{"level":30,"msg":"warm pool serving","size":1}',
      '{"level":30,"poolVm":"p1","bootMs":2210,"qemuPid":7,"msg":"pool VM ready"}',
      'qemu: warning: "pool VM ready" said something',
      '{"level":30,"poolVm":"p2","bootMs":1980,"qemuPid":9,"msg":"pool VM ready"}',
    ].join('\n');
    expect(poolBootsMs(log)).toEqual([2210, 1980]);
  });

  it('quotes what a sandbox’s shim said about the pool when its run did not get a pooled VM', () => {
    const log = [
      '{"sandbox":"cs-0-1-0","reason":"the pool serves another configuration","msg":"warm pool has no VM for this sandbox: booting one"}',
      '{"sandbox":"cs-0-1-0","msg":"container removed from the sandbox"}',
      '{"sandbox":"cs-0-2-0","msg":"took a VM from the warm pool"}',
    ].join('\n');
    expect(shimPoolLines(log, 'cs-0-1-0')).toBe(log.split('\n')[0] as string);
    expect(shimPoolLines(log, 'cs-9-9-9')).toBe('(nothing about the pool in the containerd log)');
  });
});
