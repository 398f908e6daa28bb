// The epoll tokens of the device thread. Every export gets a range of TOKENS_PER_EXPORT tokens,
// slot × TOKENS_PER_EXPORT onwards, so tokens of different exports never collide and the loop finds
// an event's export and fd by a shift and a mask (array indexing, no lookup). Slot 0 is the loop's.

export const TOKEN_SHIFT = 8;
export const TOKENS_PER_EXPORT = 1 << TOKEN_SHIFT;
export const LOCAL_TOKEN_MASK = TOKENS_PER_EXPORT - 1;

/** The loop's own control eventfd (slot 0). */
export const TOKEN_CONTROL = 0;

/** Within an export's range: its listening socket, its front-end socket, then one per queue's kick. */
export const TOKEN_LISTEN = 0;
export const TOKEN_SOCKET = 1;
export const TOKEN_KICK_BASE = 2;
/** Queues an export may have (hiprio included): one kick token each. */
export const MAX_QUEUES = TOKENS_PER_EXPORT - TOKEN_KICK_BASE;
