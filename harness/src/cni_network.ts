// A private CNI network for a PrivateContainerd with CRI (issue 12): a conflist with Debian's
// containernetworking-plugins (bridge + host-local, from /usr/lib/cni) in a conf dir of its own, so
// that RunPodSandbox gives each pod (not host-network) a netns with an eth0 veth on a bridge named
// for this run and an address from a private subnet.
//
// Nothing reaches the host's network: the bridge has no address (isGateway false: the bridge
// plugin would otherwise also switch on ip_forward), ipMasq is off (no iptables rules), and the pods
// get no default route, only their subnet's. So two runs may use the same subnet on their own
// bridges without clashing. host-local keeps its leases in the network's dir, not
// /var/lib/cni/networks; libcni's result cache is /var/lib/cni/results (containerd 1.6 cannot move
// it), emptied by CNI DEL. remove() deletes any veth still on the bridge, the bridge, the dir and
// this network's cached results; the pods' netns are containerd's, under its state dir, removed
// with the pod or at its stop.
//
//   const network = CniNetwork.create();
//   const containerd = await PrivateContainerd.start({ cri: true, cni: network.dirs });
//   …                                  // pods with NamespaceMode.POD networking get 10.250.0.x
//   await containerd.stop();
//   network.remove();

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where Debian's containernetworking-plugins installs bridge, host-local and loopback. */
export const CNI_PLUGIN_DIR = '/usr/lib/cni';
export const DEFAULT_CNI_SUBNET = '10.250.0.0/24';
/** libcni's result cache (hard-coded in containerd 1.6's go-cni); emptied by CNI DEL. */
const CNI_CACHE_DIR = '/var/lib/cni';
const CNI_RESULTS_DIR = join(CNI_CACHE_DIR, 'results');
const REQUIRED_PLUGINS = ['bridge', 'host-local', 'loopback'];

/** The CNI directories containerd's CRI plugin is configured with (ContainerdOptions.cni). */
export interface CniDirs {
  readonly binDir: string;
  readonly confDir: string;
}

export interface CniNetworkOptions {
  /** An IPv4 subnet for host-local (default DEFAULT_CNI_SUBNET); private to this bridge. */
  readonly subnet?: string;
}

export class CniNetwork {
  /** The CNI network name, also the conflist's. */
  readonly name: string;
  readonly dirs: CniDirs;

  private constructor(
    /** This network's own directory: conf dir and host-local's lease dir. */
    readonly dir: string,
    /** The Linux bridge the pods' veths join; at most 15 characters, unique per run. */
    readonly bridge: string,
    readonly subnet: string,
    /** Whether CNI_CACHE_DIR was absent before this network, so that remove() removes it again. */
    private readonly madeCacheDir: boolean,
  ) {
    this.name = `vfs-${bridge}`;
    this.dirs = { binDir: CNI_PLUGIN_DIR, confDir: join(dir, 'net.d') };
  }

  /** Writes the conflist; the bridge itself appears with the first pod. Throws when a plugin is missing. */
  static create(options: CniNetworkOptions = {}): CniNetwork {
    const missing = REQUIRED_PLUGINS.filter((plugin) => !existsSync(join(CNI_PLUGIN_DIR, plugin)));
    if (missing.length > 0)
      throw new Error(`CNI plugins ${missing.join(', ')} missing in ${CNI_PLUGIN_DIR}: run scripts/ensure-deps.sh`);
    const network = new CniNetwork(
      mkdtempSync('/tmp/vfs-cni-'),
      `vfsbr${randomBytes(4).toString('hex')}`,
      options.subnet ?? DEFAULT_CNI_SUBNET,
      !existsSync(CNI_CACHE_DIR),
    );
    network.writeConfList();
    return network;
  }

  /** host-local's lease files: one per address in use, named by the address. */
  get leaseDir(): string {
    return join(this.dir, 'leases');
  }

  private writeConfList(): void {
    mkdirSync(this.dirs.confDir, { recursive: true });
    const confList = {
      cniVersion: '1.0.0',
      name: this.name,
      plugins: [
        {
          type: 'bridge',
          bridge: this.bridge,
          isGateway: false,
          ipMasq: false,
          hairpinMode: false,
          ipam: { type: 'host-local', ranges: [[{ subnet: this.subnet }]], dataDir: this.leaseDir },
        },
      ],
    };
    writeFileSync(join(this.dirs.confDir, '10-vfs.conflist'), `${JSON.stringify(confList, null, 2)}\n`);
  }

  /** Whether the bridge exists (it does from the first pod until remove()). */
  bridgeExists(): boolean {
    return existsSync(`/sys/class/net/${this.bridge}`);
  }

  /** Host-side interfaces (the pods' veths) enslaved to the bridge. */
  bridgePorts(): string[] {
    const dir = `/sys/class/net/${this.bridge}/brif`;
    return existsSync(dir) ? readdirSync(dir) : [];
  }

  /**
   * Deletes the veths still on the bridge (each takes its pod-side peer), the bridge, the dir,
   * libcni's cached results of pods that never saw CNI DEL (containerd stopped first), and libcni's
   * cache dir when this network made it and it is empty again. Idempotent.
   */
  remove(): void {
    for (const port of this.bridgePorts()) execFileSync('ip', ['link', 'delete', port]);
    if (this.bridgeExists()) execFileSync('ip', ['link', 'delete', this.bridge, 'type', 'bridge']);
    rmSync(this.dir, { recursive: true, force: true });
    this.removeCachedResults();
    if (this.madeCacheDir) for (const dir of [CNI_RESULTS_DIR, CNI_CACHE_DIR]) removeIfEmpty(dir);
  }

  /** `<network>-<container id>-<ifname>` files, and the loopback results of the same containers. */
  private removeCachedResults(): void {
    if (!existsSync(CNI_RESULTS_DIR)) return;
    const prefix = `${this.name}-`;
    const files = readdirSync(CNI_RESULTS_DIR);
    const ours = files.filter((file) => file.startsWith(prefix));
    const ids = new Set(ours.map((file) => /^[0-9a-f]+/.exec(file.slice(prefix.length))?.[0]));
    const loopbacks = files.filter((file) => {
      const id = /^cni-loopback-([0-9a-f]+)-lo$/.exec(file)?.[1];
      return id !== undefined && ids.has(id);
    });
    for (const file of [...ours, ...loopbacks]) rmSync(join(CNI_RESULTS_DIR, file), { force: true });
  }
}

/** Removes an empty directory; another run may be using it, then it stays. */
function removeIfEmpty(dir: string): void {
  try {
    rmdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTEMPTY' && code !== 'EBUSY') throw err;
  }
}
