// Docker's default bridge network with vfs (issue 12): a private dockerd (harness/src/docker.ts)
// whose default network is a bridge of this run's own (harness/src/docker_bridge.ts: a private
// 10.251.N.0/24, no iptables rule, no sysctl). A runc container serves HTTP with busybox httpd;
// `docker run --runtime io.containerd.vfs.v2 busybox wget -O- http://<its address>` fetches the
// page, as a runc client does: dockerd gives the vfs container a netns with a veth, and the shim
// makes it the VM's interface. After stop no veth and, once removed, no bridge is left.
// Needs root and `make build runtime` (bundles, guest kernel + initramfs, build/runtime).

import type Docker from 'dockerode';
import { bundleShim } from '@vfs/harness/bundles';
import { DOCKER_BUSYBOX, PrivateDocker } from '@vfs/harness/docker';
import { DockerBridge } from '@vfs/harness/docker_bridge';
import { demuxOutput } from '@vfs/harness/docker_output';
import { waitFor } from '@vfs/harness/process';

jest.setTimeout(240_000);

const PAGE = 'served by a runc container\n';
const RUNTIMES: readonly (readonly [string, string])[] = [
  ['runc (the reference)', 'runc'],
  ['vfs', 'io.containerd.vfs.v2'],
];

describe("Docker's default bridge network", () => {
  let bridge: DockerBridge;
  let docker: PrivateDocker;
  let stopped = false;
  let server: Docker.Container;
  let serverIp: string;

  beforeAll(async () => {
    bundleShim();
    bridge = DockerBridge.create();
    docker = await PrivateDocker.start({ bridge: bridge.name });
    server = await docker.client.createContainer({
      Image: DOCKER_BUSYBOX,
      Cmd: ['sh', '-c', `mkdir /www && echo '${PAGE.trim()}' > /www/index.html && exec httpd -f -p 80 -h /www`],
      HostConfig: { Runtime: 'runc' },
    });
    await server.start();
    serverIp = (await server.inspect()).NetworkSettings.Networks.bridge?.IPAddress ?? '';
    // The host reaches the bridge's subnet (the gateway address is its own): wait for httpd there.
    await waitFor('httpd in the runc container', () =>
      fetch(`http://${serverIp}/`).then(
        (response) => response.ok,
        () => false,
      ),
    );
  }, 300_000);

  afterAll(async () => {
    if (!stopped) await docker?.stop();
    bridge?.remove();
  });

  it('gives a runc container an address on the bridge', () => {
    expect(serverIp).toMatch(new RegExp(`^${bridge.gateway.replace(/\.1$/, '').replaceAll('.', '\\.')}\\.\\d+$`));
  });

  it.each(RUNTIMES)('lets a %s container on the default network fetch from it by address', async (_name, runtime) => {
    // Not wget -T: Debian's busybox-static 1.35 wget segfaults with it.
    const get = ['timeout', '20', 'wget', '-q', '-O-', `http://${serverIp}/`];
    const client = await docker.client.createContainer({
      Image: DOCKER_BUSYBOX,
      Cmd: get,
      HostConfig: { Runtime: runtime },
    });
    try {
      await client.start();
      const { StatusCode } = (await client.wait()) as { StatusCode: number };
      const output = demuxOutput(await client.logs({ stdout: true, stderr: true, follow: false }));
      expect({ code: StatusCode, ...output }).toEqual({ code: 0, stdout: PAGE, stderr: '' });
    } finally {
      await client.remove({ force: true });
    }
  });

  it('leaves no veth on the bridge after stop, and no bridge once removed', async () => {
    stopped = true;
    await docker.stop();
    expect(bridge.ports()).toEqual([]);
    bridge.remove();
    expect(bridge.exists()).toBe(false);
  });
});
