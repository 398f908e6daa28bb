// A Linux bridge of this run's own for a PrivateDocker's default network (`dockerd --bridge`), in
// place of docker0: containers on Docker's default network get a veth on it and an address from
// its subnet, and talk to each other across it. dockerd takes the bridge's address as gateway and
// the subnet from it, and (with --iptables=false --ip-forward=false --ip-masq=false) adds no
// iptables rule and no sysctl: the only trace on the host is the bridge with its connected route,
// on a 10.251.N.0/24 that no route of the host's uses yet. remove() deletes the veths still on it
// and the bridge.

import { execFileSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';

export class DockerBridge {
  private constructor(
    /** The interface name, at most 15 characters, unique per run. */
    readonly name: string,
    /** The bridge's own address: the containers' gateway. */
    readonly gateway: string,
    /** `10.251.N.0/24`. */
    readonly subnet: string,
  ) {}

  /** Creates the bridge, addressed and up, on a /24 that clashes with no route of the host's. */
  static create(): DockerBridge {
    const third = freeThirdOctet();
    const bridge = new DockerBridge(
      `vfsdk${randomBytes(4).toString('hex')}`,
      `10.251.${third}.1`,
      `10.251.${third}.0/24`,
    );
    try {
      execFileSync('ip', ['link', 'add', bridge.name, 'type', 'bridge']);
      execFileSync('ip', ['addr', 'add', `${bridge.gateway}/24`, 'dev', bridge.name]);
      execFileSync('ip', ['link', 'set', bridge.name, 'up']);
      return bridge;
    } catch (err) {
      bridge.remove();
      throw err;
    }
  }

  exists(): boolean {
    return existsSync(`/sys/class/net/${this.name}`);
  }

  /** Host-side veths of the containers on the bridge. */
  ports(): string[] {
    const dir = `/sys/class/net/${this.name}/brif`;
    return existsSync(dir) ? readdirSync(dir) : [];
  }

  /** Deletes the veths still on the bridge (each takes its container-side peer) and the bridge. Idempotent. */
  remove(): void {
    for (const port of this.ports()) execFileSync('ip', ['link', 'delete', port]);
    if (this.exists()) execFileSync('ip', ['link', 'delete', this.name, 'type', 'bridge']);
  }
}

/** A random N for 10.251.N.0/24 that no IPv4 route of the host's starts with yet. */
function freeThirdOctet(): number {
  const routes = execFileSync('ip', ['-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' });
  for (let attempt = 0; attempt < 32; attempt++) {
    const third = randomInt(1, 255);
    if (!routes.includes(`10.251.${third}.`)) return third;
  }
  throw new Error('no free 10.251.N.0/24 for a Docker bridge: 32 random picks all in use');
}
