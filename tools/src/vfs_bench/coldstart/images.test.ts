import { linkedLibraries } from './images';

describe('the Node function image', () => {
  it('copies the libraries ldd names, the loader included, not the vDSO', () => {
    const ldd = [
      '\tlinux-vdso.so.1 (0x00007ffd1b1f0000)',
      '\tlibstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f0e0d400000)',
      '\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0e0d13e000)',
      '\t/lib64/ld-linux-x86-64.so.2 (0x00007f0e0d672000)',
    ].join('\n');
    expect(linkedLibraries(ldd)).toEqual([
      '/lib/x86_64-linux-gnu/libstdc++.so.6',
      '/lib/x86_64-linux-gnu/libc.so.6',
      '/lib64/ld-linux-x86-64.so.2',
    ]);
  });
});
