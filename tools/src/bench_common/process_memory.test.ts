import { mappingsPssKib } from './process_memory';

const SMAPS = `55d0c0000000-55d0c0100000 r-xp 00000000 fe:00 1234   /usr/bin/qemu-system-x86_64
Size:               1024 kB
Pss:                 500 kB
7f31c8000000-7f3207fff000 rwxp 00000000 00:00 0 
Size:            1048572 kB
Pss:               94208 kB
7f3300000000-7f3300100000 rw-p 00000000 00:00 0 
Pss:                 300 kB
`;

describe('mappingsPssKib', () => {
  it('sums the Pss of the mappings selected by their header only', () => {
    expect(mappingsPssKib(SMAPS, (m) => m.perms === 'rwxp' && m.inode === 0 && m.path === '')).toBe(94208);
    expect(mappingsPssKib(SMAPS, (m) => m.path.endsWith('qemu-system-x86_64'))).toBe(500);
  });
});
