import { MS_RDONLY } from '../container/mount_options';
import { mountSteps } from './share_table';

describe('mountSteps', () => {
  it("passes a share's options to mount(2) as the virtiofs data, and read-only as MS_RDONLY", () => {
    const share = {
      tag: 'vfslayers',
      mountPoint: '/run/vfs/shares/vfslayers',
      readonly: true,
      options: ['dax=always'],
    };
    expect(mountSteps(share)).toEqual([
      ['mkdirp', '/run/vfs/shares/vfslayers', '755'],
      ['mount', 'vfslayers', '/run/vfs/shares/vfslayers', 'virtiofs', MS_RDONLY, 'dax=always'],
    ]);
  });

  it('mounts a share without options read-write with empty data', () => {
    const share = { tag: 'vfsdata', mountPoint: '/run/vfs/shares/vfsdata', readonly: false, options: [] };
    expect(mountSteps(share)[1]).toEqual(['mount', 'vfsdata', '/run/vfs/shares/vfsdata', 'virtiofs', 0, '']);
  });
});
