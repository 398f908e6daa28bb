import { parseMemoryArgs } from './memory_args';

describe('parseMemoryArgs', () => {
  it('measures 3 sandboxes by default, with the configured runtime and machine', () => {
    expect(parseMemoryArgs([])).toEqual({
      sandboxes: [3],
      jsonPath: undefined,
      runtimes: undefined,
      machine: undefined,
      qemu: undefined,
      template: false,
    });
  });

  it('resumes a template with --template, for one runtime only', () => {
    expect(parseMemoryArgs(['--template']).template).toBe(true);
    expect(() => parseMemoryArgs(['--template', '--runtime', 'pmem'])).toThrow(/--template measures one runtime/);
  });

  it('takes a list of sandbox counts', () => {
    expect(parseMemoryArgs(['--sandboxes', '1,3,10', '--json', 'o.json'])).toMatchObject({
      sandboxes: [1, 3, 10],
      jsonPath: 'o.json',
    });
  });

  it('rejects a count below one', () => {
    expect(() => parseMemoryArgs(['--sandboxes', '1,0'])).toThrow(/--sandboxes must be an integer >= 1/);
  });

  it('takes the runtimes to compare, and the machine and QEMU for every vfs cell', () => {
    expect(parseMemoryArgs(['--runtime', 'share,pmem', '--machine', 'q35', '--qemu', '/opt/q'])).toMatchObject({
      runtimes: ['share', 'pmem'],
      machine: 'q35',
      qemu: '/opt/q',
    });
  });

  it('rejects a runtime or machine the configuration would not take, naming the allowed values', () => {
    expect(() => parseMemoryArgs(['--runtime', 'share,disk'])).toThrow(
      /--runtime: "disk" is not one of "share", "image", "pmem"/,
    );
    expect(() => parseMemoryArgs(['--runtime', 'pmem,pmem'])).toThrow(/names one twice/);
    expect(() => parseMemoryArgs(['--machine', 'pc'])).toThrow(/--machine: "pc" is not one of/);
  });
});
