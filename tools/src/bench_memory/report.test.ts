import { buildMemoryReport, formatMemoryReport } from './report';
import type { SandboxPss } from './sandbox_memory';

function vfsSandbox(qemu: number): SandboxPss {
  return { roles: { shim: 20, daemon: 40, qemu, container: 0 }, tcgCodeCache: 100, guestRamUnmapped: 0 };
}

const RUNC: SandboxPss = {
  roles: { shim: 12, daemon: 0, qemu: 0, container: 1 },
  tcgCodeCache: 0,
  guestRamUnmapped: 0,
};

const SHARE_ONLY = { machine: 'microvm-pcie', runtime: 'share', otherRuntimes: [] } as const;

describe('buildMemoryReport', () => {
  it('writes the mean per sandbox in the contract keys and the spread in detail', () => {
    const report = buildMemoryReport({
      count: 2,
      daxOff: { sandboxes: [vfsSandbox(280), vfsSandbox(300)], growthMib: 200.04 },
      daxOn: { sandboxes: [vfsSandbox(260), vfsSandbox(260)], growthMib: 70 },
      runc: { sandboxes: [RUNC, RUNC], growthMib: null },
      ...SHARE_ONLY,
    });
    expect(report.pss_mib.dax_off).toEqual({ shim: 20, daemon: 40, qemu: 290, total: 350 });
    expect(report.pss_mib.dax_on).toEqual({ shim: 20, daemon: 40, qemu: 260, total: 320 });
    expect(report.shared_read).toEqual({ file_mib: 64, growth_mib: { dax_off: 200, dax_on: 70 } });
    expect(report.detail.dax_off.qemu).toEqual({ mean: 290, min: 280, max: 300 });
    expect(report.detail.runc.total).toEqual({ mean: 13, min: 13, max: 13 });
  });

  it('writes null beside the reason when DAX cannot be measured', () => {
    const report = buildMemoryReport({
      count: 1,
      daxOff: { sandboxes: [vfsSandbox(280)], growthMib: 130 },
      daxOn: 'no vhost-user-test-device-pci',
      runc: { sandboxes: [RUNC], growthMib: null },
      ...SHARE_ONLY,
    });
    expect(report.pss_mib).toMatchObject({ dax_on: null, dax_on_unavailable: 'no vhost-user-test-device-pci' });
    expect(report.shared_read.growth_mib).toMatchObject({ dax_on: null });
    expect(formatMemoryReport(report)).toMatch(/DAX on: not measured: no vhost-user-test-device-pci/);
  });

  it('reports the DAX-off PSS of each runtime measured, the first being the DAX-off cell itself', () => {
    const share = { sandboxes: [vfsSandbox(290)], growthMib: 130 };
    const report = buildMemoryReport({
      count: 1,
      daxOff: share,
      daxOn: 'no window',
      runc: { sandboxes: [RUNC], growthMib: null },
      machine: 'q35',
      runtime: 'share',
      otherRuntimes: [['pmem', { sandboxes: [vfsSandbox(240)], growthMib: null }]],
    });
    expect(report.runtimes).toEqual({
      machine: 'q35',
      pss_mib: {
        share: { shim: 20, daemon: 40, qemu: 290, total: 350 },
        pmem: { shim: 20, daemon: 40, qemu: 240, total: 300 },
      },
    });
    expect(report.pss_mib.dax_off).toEqual(report.runtimes.pss_mib.share);
    const table = formatMemoryReport(report);
    expect(table).toMatch(/on q35, runtime share unless named/);
    expect(table).toMatch(/vfs, DAX off, runtime pmem .*240\.0/);
  });

  it('says when the sandboxes resumed a VM template', () => {
    const report = buildMemoryReport({
      count: 1,
      daxOff: { sandboxes: [vfsSandbox(200)], growthMib: 130 },
      daxOn: 'not with --template: a VM template has no DAX window',
      runc: { sandboxes: [RUNC], growthMib: null },
      ...SHARE_ONLY,
      templateRamMib: 44.84,
    });
    expect(report).toMatchObject({ template: true, template_ram_mib: 44.8 });
    const table = formatMemoryReport(report);
    expect(table).toMatch(/vfs, DAX off, from a template .*200\.0/);
    expect(table).toMatch(/the VM template's RAM: 44\.8 MiB on tmpfs, 44\.8 per sandbox/);
  });
});
