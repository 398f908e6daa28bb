/**
 * The sandbox: a template VM's warm-up before it has one (WarmUp), its hostname, resolver, shares and
 * network (CreateSandbox), hot-plugged shares (MountShare/UnmountShare), and its end
 * (DestroySandbox: every container killed and removed, every share detached) just before the VM
 * stops.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { errorMessage } from '@vfs/contracts';
import { Code, TtrpcError } from '@vfs/proto/ttrpc';
import { step } from '../container/launch_plan';
import { warmUp } from '../container/warm_up';
import type { AgentState } from './agent_state';
import { invalid } from './call_errors';
import type { Handlers } from './handler_types';
import { checkEntropy, checkHostTime, hostSyncSteps } from './host_sync';
import { configureNetwork } from './network_setup';
import { removeContainer } from './removal';

const RESOLV_CONF = '/etc/resolv.conf';
const PCI_SLOTS = '/sys/bus/pci/slots';
const HOSTNAME_PATTERN = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,62})$/;
/** Each container's processes get this long after SIGKILL at DestroySandbox. */
const DESTROY_WAIT_MS = 5000;

function hostnameSteps(hostname: string): ReturnType<typeof step>[] {
  if (hostname === '') return [];
  if (!HOSTNAME_PATTERN.test(hostname)) throw invalid(`hostname "${hostname}" is not a valid host name`);
  return [step('hostname', hostname)];
}

function writeResolvConf(dns: readonly string[]): void {
  if (dns.length === 0) return;
  for (const server of dns) {
    if (!/^[0-9A-Fa-f.:]+$/.test(server)) throw invalid(`DNS server "${server}" is not an IP address`);
  }
  mkdirSync('/etc', { recursive: true });
  writeFileSync(RESOLV_CONF, dns.map((server) => `nameserver ${server}\n`).join(''));
}

/**
 * Releases a hot-plugged device by powering its PCIe slot off (pciehp), which QEMU sees at once;
 * without this a device_del waits out the attention button's five seconds. A slot the guest has no
 * control of (no native hotplug) is left to device_del, so a failure here is only logged.
 */
function powerOffSlot(state: AgentState, slot: number): void {
  const power = `${PCI_SLOTS}/${slot}/power`;
  try {
    writeFileSync(power, '0');
    state.log.info({ slot }, 'hotplug slot powered off');
  } catch (err) {
    state.log.warn({ slot, err: errorMessage(err) }, `cannot power off ${power}: the host's device_del releases it`);
  }
}

async function destroy(state: AgentState): Promise<void> {
  const failures: string[] = [];
  for (const containerId of state.registry.ids()) {
    await removeContainer(state, containerId, DESTROY_WAIT_MS).catch((err: unknown) => {
      failures.push(errorMessage(err));
    });
  }
  await state.shares.unmountAll();
  if (failures.length > 0) throw new TtrpcError(Code.Internal, `destroy sandbox: ${failures.join('; ')}`);
  state.log.info({ sandbox: state.sandboxId }, 'sandbox destroyed');
}

/** What a VM holds of a tenant already: its sandbox or a container; undefined for a fresh VM. */
function tenantOf(state: AgentState): string | undefined {
  if (state.sandboxId !== undefined) return `sandbox ${state.sandboxId}`;
  const container = state.registry.ids()[0];
  return container === undefined ? undefined : `container ${container}`;
}

export function sandboxHandlers(
  state: AgentState,
): Handlers<'createSandbox' | 'destroySandbox' | 'mountShare' | 'unmountShare' | 'warmUp'> {
  return {
    warmUp: async () => {
      const tenant = tenantOf(state);
      if (tenant !== undefined) {
        throw new TtrpcError(Code.FailedPrecondition, `${tenant} exists: a warm-up is for a VM no tenant has had`);
      }
      const started = performance.now();
      let warmed: Awaited<ReturnType<typeof warmUp>>;
      try {
        warmed = await warmUp(state.launcherPath);
      } catch (err) {
        // Nothing the host sent caused it: the VM cannot run a container (its maker discards it).
        throw new TtrpcError(Code.Internal, `warm-up: ${errorMessage(err)}`, { cause: err });
      }
      state.log.info({ ...warmed, ms: Math.round(performance.now() - started) }, 'warmed up');
      // The warm-up took spare launchers: made up again at once.
      state.spareLauncher?.fill();
      return warmed;
    },
    createSandbox: async (request) => {
      if (state.sandboxId !== undefined)
        throw new TtrpcError(Code.AlreadyExists, `sandbox ${state.sandboxId} is already created`);
      const hostname = hostnameSteps(request.hostname);
      checkEntropy(request.entropy);
      checkHostTime(request.hostTimeMs);
      const received = performance.now();
      // The host's time plus what has passed here since the request came.
      const hostTimeNow = (): number =>
        request.hostTimeMs === 0 ? 0 : request.hostTimeMs + Math.round(performance.now() - received);
      const before = () => [...hostSyncSteps(hostTimeNow(), request.entropy), ...hostname];
      writeResolvConf(request.dns);
      if (request.shares.length > 0) await state.shares.mount(request.shares, before, request.shareWaitMs);
      else state.pendingSetup = before;
      await configureNetwork(request.interfaces, request.routes);
      state.sandboxId = request.sandboxId;
      state.log.info(
        {
          sandbox: request.sandboxId,
          shares: request.shares.map((s) => s.tag),
          interfaces: request.interfaces.map((nic) => `${nic.name} ${nic.addresses.join(' ')}`),
        },
        'sandbox created',
      );
      return {};
    },
    destroySandbox: async () => {
      await destroy(state);
      return {};
    },
    mountShare: async (request) => {
      if (request.share === undefined) throw invalid('MountShare without a share');
      await state.shares.mount([request.share], undefined, request.waitMs);
      state.log.info({ share: request.share.tag, mountPoint: request.share.mountPoint }, 'share mounted');
      return {};
    },
    unmountShare: async (request) => {
      await state.shares.unmount(request.tag, request.lazy);
      state.log.info({ share: request.tag }, 'share unmounted');
      if (request.pciSlot > 0) powerOffSlot(state, request.pciSlot);
      return {};
    },
  };
}
