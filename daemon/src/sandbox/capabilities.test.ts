import { keptCapabilities, parseModcaps } from './capabilities';

const CAP_CHOWN = 0;
const CAP_DAC_READ_SEARCH = 2;
const CAP_SYS_ADMIN = 21;
const CAP_MKNOD = 27;
const CAP_CHECKPOINT_RESTORE = 40;

describe("--modcaps, as virtiofsd's", () => {
  test('names capabilities after + or -, colon-separated, in any case (and, unlike virtiofsd, with cap_)', () => {
    expect(parseModcaps('+sys_admin:-chown')).toEqual({ add: [CAP_SYS_ADMIN], remove: [CAP_CHOWN] });
    expect(parseModcaps('+CAP_SYS_ADMIN:+checkpoint_restore')).toEqual({
      add: [CAP_SYS_ADMIN, CAP_CHECKPOINT_RESTORE],
      remove: [],
    });
  });

  test('a later entry for a capability wins, as in virtiofsd', () => {
    expect(parseModcaps('-chown:+chown')).toEqual({ add: [CAP_CHOWN], remove: [] });
    expect(parseModcaps('+sys_admin:-sys_admin')).toEqual({ add: [], remove: [CAP_SYS_ADMIN] });
  });

  test.each([
    ['-setuid', /'-setuid': the daemon takes on each guest user's ids with it, and without it would act as root/],
    ['+chown:-setgid', /'-setgid': the daemon takes on/],
    ['sys_admin', /'sys_admin' is not \+ or - and a capability name/],
    ['+sys_admn', /'\+sys_admn' is not/],
    ['+sys_admin:', /'' is not/],
    ['', /'' is not/],
  ])('refuses %j, naming the entry', (list, message) => {
    expect(() => parseModcaps(list)).toThrow(message);
  });

  test('adds to and removes from the set kept, removals last, the file-handle capability as before', () => {
    const kept = keptCapabilities(false, parseModcaps('+sys_admin:-mknod'));
    expect(kept).toContain(CAP_SYS_ADMIN);
    expect(kept).not.toContain(CAP_MKNOD);
    expect(kept).not.toContain(CAP_DAC_READ_SEARCH);
    expect(keptCapabilities(true, parseModcaps('+mknod:-mknod'))).toEqual(
      keptCapabilities(true).filter((cap) => cap !== CAP_MKNOD),
    );
    expect(keptCapabilities(true)).toContain(CAP_DAC_READ_SEARCH);
  });
});
