/**
 * Flow control for a process's output between the agent and the shim. ttrpc has none: a server
 * stream's send completes once the bytes are in the socket, and the shim reads its one agent
 * connection for every call at once, so a consumer slower than the container (a paused
 * terminal, a slow log reader) used to grow the shim without bound. The agent sends at most
 * OUTPUT_WINDOW_BYTES of a stream ahead of what the shim reported consumed (OutputConsumed),
 * and the shim reports every OUTPUT_ACK_BYTES it has passed on: the process then waits on its
 * full pipe, as under runc.
 */
export const OUTPUT_WINDOW_BYTES = 1 << 20;
export const OUTPUT_ACK_BYTES = 256 * 1024;
