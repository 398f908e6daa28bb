/**
 * The agent is root in the machine it runs in: it delegates the cgroup2 controllers under
 * /sys/fs/cgroup, mounts over its stage directory and runs containers. Started on a host by
 * mistake it would take over the host's cgroup tree, so it runs only where /init starts it: in a
 * guest booted with vfs.mode=agent.
 */
import { readFileSync } from 'node:fs';
import { bootModeOf } from '@vfs/contracts';

/** Throws unless `cmdline` (the kernel's command line) is a vfs guest's in agent mode. */
export function assertAgentGuest(cmdline: string = readFileSync('/proc/cmdline', 'utf8')): void {
  if (bootModeOf(cmdline) === 'agent') return;
  throw new Error(
    'refusing to run: /proc/cmdline has no vfs.mode=agent, so this is not a vfs guest; the agent ' +
      'takes over /sys/fs/cgroup and must not run on a host',
  );
}
