// One process in the guest as the frame sees it (RuntimeProcess): its output relays are opened
// as soon as it exists (the agent buffers in the pipe until then), its stdin relay once it runs,
// and `exited` resolves after WaitProcess answered AND both outputs reached containerd. When the
// agent is unreachable (the VM died) WaitProcess fails and the exit is LOST_STATUS.

import { errorMessage } from '@vfs/contracts';
import { ExitReason } from '@vfs/proto/gen/containerd/types/task/task';
import { Code, TtrpcError } from '@vfs/proto/ttrpc';
import type { ShimLogger } from '../logger';
import type { ProcessExit, ProcessIo, ProcessRef } from '../sandbox_runtime';
import type { AgentClient } from './agent_dial';
import { type ReportConsumed, relayOutput, relayStdin } from './stdio_relay';

/** The exit status of a process whose VM (QEMU, the daemon or the agent) died under it. */
export const LOST_STATUS = 255;

export interface GuestProcess {
  readonly ref: ProcessRef;
  readonly exited: Promise<ProcessExit>;
  /** Starts copying stdin; call once the process runs. */
  startStdin(): void;
}

async function waitExit(agent: AgentClient, ref: ProcessRef, log: ShimLogger): Promise<ProcessExit> {
  try {
    const answer = await agent.waitProcess({ containerId: ref.containerId, execId: ref.execId });
    // The host's time, not the guest's: a guest clock drifts (by seconds under TCG), and containerd
    // orders the exit against times it took itself (created, started).
    return { exitStatus: answer.exitStatus, exitedAt: new Date(), reason: answer.exitReason };
  } catch (err) {
    log.error({ execId: ref.execId, err: errorMessage(err) }, `process lost: reported as exit status ${LOST_STATUS}`);
    return { exitStatus: LOST_STATUS, exitedAt: new Date(), reason: ExitReason.NONE };
  }
}

/** The call failed because the process, or the VM under it, is gone: nothing is left to deliver to. */
function processGone(err: unknown): boolean {
  return err instanceof TtrpcError && (err.code === Code.Unavailable || err.code === Code.NotFound);
}

/**
 * OutputConsumed, sent without waiting. Once the VM or the process is gone its stream ends
 * anyway; any other failure leaves the agent's window smaller for good, so it is a warning.
 */
function consumedReporter(agent: AgentClient, ref: ProcessRef, stderr: boolean, log: ShimLogger): ReportConsumed {
  return (bytes) => {
    agent.outputConsumed({ containerId: ref.containerId, execId: ref.execId, stderr, bytes }).catch((err: unknown) => {
      log[processGone(err) ? 'debug' : 'warn'](
        { execId: ref.execId, stderr, err: errorMessage(err) },
        'OutputConsumed failed',
      );
    });
  };
}

export function trackGuestProcess(agent: AgentClient, ref: ProcessRef, io: ProcessIo, log: ShimLogger): GuestProcess {
  const request = { containerId: ref.containerId, execId: ref.execId };
  const streamed = { ...request, reportConsumed: true };
  const outputs = [
    relayOutput(agent.readStdout(streamed), io.stdout, log, 'stdout', consumedReporter(agent, ref, false, log)),
  ];
  if (!io.terminal)
    outputs.push(
      relayOutput(agent.readStderr(streamed), io.stderr, log, 'stderr', consumedReporter(agent, ref, true, log)),
    );
  const exited = waitExit(agent, ref, log).then(async (exit) => {
    await Promise.all(outputs);
    return exit;
  });
  let stdinStarted = false;
  return {
    ref,
    exited,
    startStdin() {
      if (stdinStarted || io.stdin === undefined) return;
      stdinStarted = true;
      void relayStdin(
        io.stdin,
        {
          // A process that exited, or whose VM stopped (a `ctr run --rm` closes its stdin as the
          // sandbox ends), takes no more input: as a closed stdin, not a failure.
          write: async (data) => {
            try {
              return (await agent.writeStdin({ ...request, data })).len;
            } catch (err) {
              if (processGone(err)) return 0;
              throw err;
            }
          },
          close: async () => {
            try {
              await agent.closeStdin(request);
            } catch (err) {
              if (!processGone(err)) throw err;
              log.debug({ execId: ref.execId, err: errorMessage(err) }, 'stdin closed after the process was gone');
            }
          },
        },
        log,
      );
    },
  };
}
