import { connectSteps, hotTapName, mirrorSteps, tapName } from './tap_mirror';

describe('mirrorSteps', () => {
  const steps = mirrorSteps({ device: 'eth0', tap: tapName(0), mtu: 1450 });

  it('makes a tap with the interface MTU and redirects every frame both ways with tc ingress filters', () => {
    expect(steps.map((s) => s.argv.join(' '))).toEqual([
      'ip tuntap add dev vfstap0 mode tap',
      'ip link set dev vfstap0 mtu 1450 up',
      'tc qdisc add dev eth0 ingress',
      'tc filter add dev eth0 parent ffff: protocol all u32 match u8 0 0 action mirred egress redirect dev vfstap0',
      'tc qdisc add dev vfstap0 ingress',
      'tc filter add dev vfstap0 parent ffff: protocol all u32 match u8 0 0 action mirred egress redirect dev eth0',
    ]);
  });

  it('undoes what it adds to the pod interface and the tap itself, which takes its own qdisc and filter along', () => {
    expect(steps.flatMap((s) => (s.undo === undefined ? [] : [s.undo.join(' ')]))).toEqual([
      'ip link del dev vfstap0',
      'tc qdisc del dev eth0 ingress',
    ]);
  });
});

describe('connectSteps', () => {
  it('is the mirror without making the tap, for a tap QEMU made (hotplug)', () => {
    const mirror = { device: 'eth0', tap: 'vt0123456789ab', mtu: 1450 };
    expect(connectSteps(mirror)).toEqual(mirrorSteps(mirror).slice(1));
  });
});

describe('hotTapName', () => {
  it('is a random name within IFNAMSIZ', () => {
    expect(hotTapName()).toMatch(/^vt[0-9a-f]{12}$/);
    expect(hotTapName()).not.toBe(hotTapName());
  });
});
