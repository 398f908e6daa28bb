/** Stdio calls: stdin writes and close, the stdout/stderr streams and their flow control, terminal resizes. */
import type { AgentState } from './agent_state';
import { invalid } from './call_errors';
import type { Handlers } from './handler_types';
import { writeStdin } from './stdin';

const WINSIZE_MAX = 0xffff;

export function stdioHandlers(
  state: AgentState,
): Handlers<'writeStdin' | 'closeStdin' | 'readStdout' | 'readStderr' | 'outputConsumed' | 'ttyWinResize'> {
  const processOf = (request: { containerId: string; execId: string }) =>
    state.registry.get(request.containerId).process(request.execId);
  return {
    writeStdin: async (request) => ({ len: await writeStdin(processOf(request), request.data) }),
    closeStdin: async (request) => {
      processOf(request).closeStdin();
      return {};
    },
    readStdout: (request, stream, ctx) =>
      state.outputs.relay(processOf(request), 'stdout', (data) => stream.send({ data }), {
        cancelled: ctx.signal,
        flowControl: request.reportConsumed,
      }),
    readStderr: (request, stream, ctx) =>
      state.outputs.relay(processOf(request), 'stderr', (data) => stream.send({ data }), {
        cancelled: ctx.signal,
        flowControl: request.reportConsumed,
      }),
    outputConsumed: async (request) => {
      state.outputs.consumed(processOf(request), request.stderr ? 'stderr' : 'stdout', request.bytes);
      return {};
    },
    ttyWinResize: async (request) => {
      if (request.rows > WINSIZE_MAX || request.columns > WINSIZE_MAX)
        throw invalid(`window size ${request.rows}x${request.columns} is too large`);
      await state.registry.get(request.containerId).resize(request.rows, request.columns, request.execId);
      return {};
    },
  };
}
