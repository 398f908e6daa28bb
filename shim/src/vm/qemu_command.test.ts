import { AGENT_PORT_NAME } from '@vfs/contracts';
import { buildQemuArgs, kernelCommandLine, type QemuConfig } from './qemu_command';

const base: QemuConfig = {
  machine: 'microvm',
  accel: 'tcg',
  memoryMiB: 256,
  vcpus: 2,
  kernelPath: '/img/vmlinux',
  initrdPath: '/img/initramfs.cpio.lz4',
  kernelArgs: ['vfs.mode=poweroff'],
  fsDevices: [],
  consoleLogPath: '/run/vm/console.log',
};

/** The value following each occurrence of `flag`. */
function valuesOf(args: string[], flag: string): string[] {
  return args.flatMap((arg, i) => (arg === flag ? [args[i + 1] as string] : []));
}

describe('buildQemuArgs', () => {
  it('backs guest RAM with a shared memfd of the configured size, as vhost-user requires', () => {
    const args = buildQemuArgs(base);
    expect(valuesOf(args, '-object')).toContain('memory-backend-memfd,id=mem,size=256M,share=on');
    expect(valuesOf(args, '-m')).toEqual(['256M']);
    expect(valuesOf(args, '-M')).toEqual(['microvm,memory-backend=mem']);
  });

  it('backs guest RAM with a shared file and waits for a saved state when resuming a VM template', () => {
    const args = buildQemuArgs({ ...base, memoryFile: '/dev/shm/t/clones/a,b/memory', incoming: true });
    expect(valuesOf(args, '-object')).toContain(
      'memory-backend-file,id=mem,size=256M,mem-path=/dev/shm/t/clones/a,,b/memory,share=on',
    );
    expect(valuesOf(args, '-incoming')).toEqual(['defer']);
    expect(valuesOf(buildQemuArgs(base), '-incoming')).toEqual([]);
    expect(() => buildQemuArgs({ ...base, incoming: true })).toThrow(/incoming VM needs memoryFile/);
  });

  it('makes microvm virtio-mmio devices modern so the vhost-user backend sees virtio 1.x', () => {
    expect(valuesOf(buildQemuArgs(base), '-global')).toEqual(['virtio-mmio.force-legacy=false']);
  });

  it('gives microvm-pcie a PCIe host bridge with empty root ports, boot devices on virtio-mmio, and native PCIe hotplug in the guest', () => {
    const config: QemuConfig = {
      ...base,
      machine: 'microvm-pcie',
      hotplugRootPorts: 2,
      fsDevices: [{ id: 'fs0', socketPath: '/s/fs0.sock', tag: 'vfsruntime' }],
    };
    const args = buildQemuArgs(config);
    expect(valuesOf(args, '-M')).toEqual(['microvm,pcie=on,memory-backend=mem']);
    expect(valuesOf(args, '-device')).toEqual(
      expect.arrayContaining([
        'vhost-user-fs-device,id=fs0,chardev=fs0-chr,tag=vfsruntime',
        'pcie-root-port,id=hp0,bus=pcie.0,chassis=1,slot=1',
        'pcie-root-port,id=hp1,bus=pcie.0,chassis=2,slot=2',
      ]),
    );
    expect(kernelCommandLine(config)).toContain('pcie_ports=native');
    expect(kernelCommandLine(base)).not.toContain('pcie_ports');
  });

  it('uses q35 without the virtio-mmio global or the built-in devices no guest uses', () => {
    const args = buildQemuArgs({ ...base, machine: 'q35' });
    expect(valuesOf(args, '-M')).toEqual(['q35,memory-backend=mem,sata=off,smbus=off,vmport=off,smm=off,i8042=off']);
    expect(valuesOf(args, '-global')).toEqual([]);
  });

  it('adds a free-page-reporting balloon only when asked: PCI on q35, virtio-mmio on the microvm family', () => {
    const balloons = (config: QemuConfig) =>
      valuesOf(buildQemuArgs(config), '-device').filter((d) => d.includes('balloon'));
    expect(balloons(base)).toEqual([]);
    expect(balloons({ ...base, machine: 'q35', freePageReporting: false })).toEqual([]);
    expect(balloons({ ...base, machine: 'q35', freePageReporting: true })).toEqual([
      'virtio-balloon-pci,id=balloon,free-page-reporting=on',
    ]);
    for (const machine of ['microvm', 'microvm-pcie'] as const) {
      expect(balloons({ ...base, machine, freePageReporting: true })).toEqual([
        'virtio-balloon-device,id=balloon,free-page-reporting=on',
      ]);
    }
  });

  it('starts with no default devices, no user config, no display and no reboot', () => {
    expect(buildQemuArgs(base).slice(0, 4)).toEqual(['-nodefaults', '-no-user-config', '-nographic', '-no-reboot']);
  });

  it('picks the CPU model from the accelerator unless one is given', () => {
    expect(valuesOf(buildQemuArgs(base), '-cpu')).toEqual(['max,la57=off']);
    expect(valuesOf(buildQemuArgs({ ...base, accel: 'kvm' }), '-cpu')).toEqual(['host']);
    expect(valuesOf(buildQemuArgs({ ...base, cpuModel: 'qemu64' }), '-cpu')).toEqual(['qemu64']);
    expect(valuesOf(buildQemuArgs(base), '-accel')).toEqual(['tcg']);
    expect(valuesOf(buildQemuArgs(base), '-smp')).toEqual(['2']);
  });

  it('boots the kernel and initramfs with the command line', () => {
    const args = buildQemuArgs({ ...base, tscKhz: 2596140 });
    expect(valuesOf(args, '-kernel')).toEqual(['/img/vmlinux']);
    expect(valuesOf(args, '-initrd')).toEqual(['/img/initramfs.cpio.lz4']);
    expect(valuesOf(args, '-append')).toEqual([
      'console=ttyS0 quiet cryptomgr.notests panic=-1 tsc_early_khz=2596140 init_on_alloc=1 vfs.mode=poweroff',
    ]);
  });

  it('writes the serial console to the log file', () => {
    const args = buildQemuArgs(base);
    expect(valuesOf(args, '-chardev')).toContain('file,id=console,path=/run/vm/console.log');
    expect(valuesOf(args, '-serial')).toEqual(['chardev:console']);
  });

  it('attaches vhost-user-fs on virtio-mmio for microvm and on PCI for q35', () => {
    const fsDevices = [{ id: 'fs0', socketPath: '/run/vm/fs0.sock', tag: 'vfsruntime', queueSize: 1024 }];
    const micro = buildQemuArgs({ ...base, fsDevices });
    expect(valuesOf(micro, '-chardev')).toContain('socket,id=fs0-chr,path=/run/vm/fs0.sock');
    expect(valuesOf(micro, '-device')).toContain(
      'vhost-user-fs-device,id=fs0,chardev=fs0-chr,tag=vfsruntime,queue-size=1024',
    );
    const q35 = buildQemuArgs({ ...base, machine: 'q35', fsDevices });
    expect(valuesOf(q35, '-device')).toContain(
      'vhost-user-fs-pci,id=fs0,chardev=fs0-chr,tag=vfsruntime,queue-size=1024',
    );
  });

  it('gives a vhost-user-fs-pci device with a DAX window its cache-size, and one without none', () => {
    const fsDevices = [
      { id: 'fs0', socketPath: '/run/vm/fs0.sock', tag: 'vfsruntime' },
      { id: 'fs1', socketPath: '/run/vm/fs1.sock', tag: 'vfslayers', cacheSizeMiB: 256 },
    ];
    expect(valuesOf(buildQemuArgs({ ...base, machine: 'q35', fsDevices }), '-device')).toEqual(
      expect.arrayContaining([
        'vhost-user-fs-pci,id=fs0,chardev=fs0-chr,tag=vfsruntime',
        'vhost-user-fs-pci,id=fs1,chardev=fs1-chr,tag=vfslayers,cache-size=256M',
      ]),
    );
  });

  it('refuses a DAX window on virtio-mmio and one that is not a power of two, naming the share', () => {
    const dev = (cacheSizeMiB: number) => [{ id: 'fs1', socketPath: '/s', tag: 'vfsdata', cacheSizeMiB }];
    for (const machine of ['microvm', 'microvm-pcie'] as const) {
      expect(() => buildQemuArgs({ ...base, machine, fsDevices: dev(256) })).toThrow(
        `qemu config: virtio-fs vfsdata: a DAX window needs machine q35 (${machine} puts it on virtio-mmio)`,
      );
    }
    expect(() => buildQemuArgs({ ...base, machine: 'q35', fsDevices: dev(96) })).toThrow(
      'qemu config: virtio-fs vfsdata: DAX window: 96 MiB is not a power of two',
    );
  });

  it('attaches a read-only disk that QEMU opens read-only, with its serial, on virtio-mmio for microvm and on PCI for q35', () => {
    const readonlyDisks = [{ id: 'rt', path: '/img/a,b.erofs', serial: 'vfsruntime' }];
    const micro = buildQemuArgs({ ...base, readonlyDisks });
    expect(valuesOf(micro, '-drive')).toEqual([
      'file=/img/a,,b.erofs,if=none,id=rt,format=raw,readonly=on,cache=writeback',
    ]);
    expect(valuesOf(micro, '-device')).toContain('virtio-blk-device,id=rt-blk,drive=rt,serial=vfsruntime');
    const q35 = buildQemuArgs({ ...base, machine: 'q35', readonlyDisks });
    expect(valuesOf(q35, '-device')).toContain('virtio-blk-pci,id=rt-blk,drive=rt,serial=vfsruntime');
  });

  it('refuses a disk serial virtio-blk cannot hold or that would break the option list', () => {
    const disk = { id: 'rt', path: '/img/rt.erofs', serial: 'x'.repeat(21) };
    expect(() => buildQemuArgs({ ...base, readonlyDisks: [disk] })).toThrow(/serial/);
    expect(() => buildQemuArgs({ ...base, readonlyDisks: [{ ...disk, serial: 'a,b' }] })).toThrow(/serial/);
  });

  it('maps a pmem file read-only and shared as a virtio-pmem device, with maxmem room for it beside RAM', () => {
    const pmemDevices = [{ id: 'rt', path: '/img/a,b.pmem', sizeBytes: 100 * 1024 * 1024 }];
    const args = buildQemuArgs({ ...base, machine: 'q35', pmemDevices });
    expect(valuesOf(args, '-m')).toEqual(['256M,maxmem=356M']);
    expect(valuesOf(args, '-object')).toContain(
      'memory-backend-file,id=rt-mem,mem-path=/img/a,,b.pmem,size=104857600,share=on,readonly=on,align=2097152',
    );
    expect(valuesOf(args, '-device')).toContain('virtio-pmem-pci,id=rt,memdev=rt-mem');
    expect(valuesOf(args, '-object')).toContain('memory-backend-memfd,id=mem,size=256M,share=on');
    // Possible RAM above 4 GiB would cost the guest a 64 MiB bounce buffer it never uses.
    expect(valuesOf(args, '-append')[0]).toMatch(/ swiotlb=noforce /);
    expect(valuesOf(buildQemuArgs({ ...base, machine: 'q35' }), '-append')[0]).not.toMatch(/swiotlb/);
  });

  it('refuses virtio-pmem on the microvm machines, which QEMU 7.2 cannot map it on, and sizes fsdax cannot align', () => {
    const pmem = { id: 'rt', path: '/img/rt.pmem', sizeBytes: 4 * 1024 * 1024 };
    for (const machine of ['microvm', 'microvm-pcie'] as const) {
      expect(() => buildQemuArgs({ ...base, machine, pmemDevices: [pmem] })).toThrow(/needs machine q35/);
    }
    const unaligned = { ...pmem, sizeBytes: 3 * 1024 * 1024 };
    expect(() => buildQemuArgs({ ...base, machine: 'q35', pmemDevices: [unaligned] })).toThrow(/multiple of 2 MiB/);
  });

  it('exposes the agent as the virtio-serial port /init looks for, on a listening socket, with no ports to spare', () => {
    const args = buildQemuArgs({ ...base, machine: 'q35', agentSocketPath: '/run/vm/agent.sock' });
    expect(valuesOf(args, '-device')).toEqual(
      expect.arrayContaining([
        'virtio-serial-pci,id=vser0,max_ports=2',
        `virtserialport,bus=vser0.0,chardev=agent-chr,name=${AGENT_PORT_NAME}`,
      ]),
    );
    expect(valuesOf(args, '-chardev')).toContain('socket,id=agent-chr,path=/run/vm/agent.sock,server=on,wait=off');
    expect(valuesOf(buildQemuArgs({ ...base, agentSocketPath: '/a.sock' }), '-device')).toContain(
      'virtio-serial-device,id=vser0,max_ports=2',
    );
  });

  it('serves QMP on a listening unix socket', () => {
    const args = buildQemuArgs({ ...base, qmpSocketPath: '/run/vm/qmp.sock' });
    expect(valuesOf(args, '-chardev')).toContain('socket,id=qmp-chr,path=/run/vm/qmp.sock,server=on,wait=off');
    expect(valuesOf(args, '-mon')).toEqual(['chardev=qmp-chr,mode=control']);
  });

  it('pre-creates numbered pcie-root-ports for hotplug on q35', () => {
    const args = buildQemuArgs({ ...base, machine: 'q35', hotplugRootPorts: 2 });
    expect(valuesOf(args, '-device')).toEqual([
      'pcie-root-port,id=hp0,bus=pcie.0,chassis=1,slot=1',
      'pcie-root-port,id=hp1,bus=pcie.0,chassis=2,slot=2',
    ]);
  });

  it('escapes commas in paths inside option lists', () => {
    const args = buildQemuArgs({ ...base, consoleLogPath: '/run/a,b/console.log' });
    expect(valuesOf(args, '-chardev')).toContain('file,id=console,path=/run/a,,b/console.log');
  });

  it('rejects configs QEMU or the guest would reject later, naming the field', () => {
    expect(() => buildQemuArgs({ ...base, hotplugRootPorts: 1 })).toThrow(
      /hotplugRootPorts needs machine microvm-pcie or q35/,
    );
    expect(() => buildQemuArgs({ ...base, memoryMiB: 16 })).toThrow(/memoryMiB/);
    expect(() => buildQemuArgs({ ...base, vcpus: 0 })).toThrow(/vcpus/);
    expect(() => buildQemuArgs({ ...base, kernelArgs: ['a b'] })).toThrow(/whitespace/);
    const dev = { id: 'fs0', socketPath: '/s', tag: 'x'.repeat(37) };
    expect(() => buildQemuArgs({ ...base, fsDevices: [dev] })).toThrow(/tag/);
    expect(() =>
      buildQemuArgs({
        ...base,
        fsDevices: [
          { ...dev, tag: 'a' },
          { ...dev, tag: 'b' },
        ],
      }),
    ).toThrow(/duplicate/);
  });
});

describe('kernelCommandLine', () => {
  it('omits tsc_early_khz when the host TSC frequency is unknown', () => {
    expect(kernelCommandLine({ ...base, accel: 'kvm' })).toBe(
      'console=ttyS0 quiet cryptomgr.notests panic=-1 vfs.mode=poweroff',
    );
  });

  it('has a TCG guest zero the pages it allocates, so no stale translated code outlives a page refilled by a back end', () => {
    expect(kernelCommandLine(base).split(' ')).toContain('init_on_alloc=1');
    expect(kernelCommandLine({ ...base, accel: 'kvm' })).not.toContain('init_on_alloc');
  });
});

describe('buildQemuArgs with pod NICs', () => {
  it('attaches each pod NIC to its tap by name with the pod MAC, on virtio-mmio for microvm and PCI for q35, vhost only when asked', () => {
    const nic = { id: 'net0', tap: 'vfstap0', mac: '0a:58:0a:58:00:05', vhost: false };
    const mmioArgs = buildQemuArgs({ ...base, machine: 'microvm-pcie', netDevices: [nic] });
    expect(valuesOf(mmioArgs, '-netdev')).toEqual(['tap,id=net0,ifname=vfstap0,script=no,downscript=no,vhost=off']);
    expect(valuesOf(mmioArgs, '-device')).toContain('virtio-net-device,id=net0-nic,netdev=net0,mac=0a:58:0a:58:00:05');
    const pciArgs = buildQemuArgs({ ...base, machine: 'q35', netDevices: [{ ...nic, vhost: true }] });
    expect(valuesOf(pciArgs, '-netdev')).toEqual(['tap,id=net0,ifname=vfstap0,script=no,downscript=no,vhost=on']);
    expect(valuesOf(pciArgs, '-device')).toContain('virtio-net-pci,id=net0-nic,netdev=net0,mac=0a:58:0a:58:00:05');
    expect(valuesOf(buildQemuArgs(base), '-netdev')).toEqual([]);
  });

  it('refuses a NIC whose MAC or tap name would break the option list', () => {
    const nic = { id: 'net0', tap: 'vfstap0', mac: '0a:58:0a:58:00:05', vhost: false };
    expect(() => buildQemuArgs({ ...base, netDevices: [{ ...nic, mac: '0a:58,x' }] })).toThrow('MAC');
    expect(() => buildQemuArgs({ ...base, netDevices: [{ ...nic, tap: 'tap,script=/x' }] })).toThrow('tap name');
  });
});
