/**
 * The agent's logger: JSON lines on stderr (the guest console) in pino's format (numeric level,
 * time, pid, msg, bound fields), so host tools read them like the shim's and the daemon's.
 * Not pino itself: loading pino costs ~16 ms on the host, ~0.4 s under TCG, all of it on the
 * cold-start path of every sandbox; this is the few lines of it the agent uses.
 */
import type { TtrpcLogger } from '@vfs/proto/ttrpc';

export type LogFields = Record<string, unknown>;

const LEVELS = { debug: 20, info: 30, warn: 40, error: 50 } as const;
type Level = keyof typeof LEVELS;

export interface AgentLogger extends TtrpcLogger {
  info(fields: LogFields, message: string): void;
  /** A logger whose lines all carry `bindings` (e.g. { container: id }). */
  child(bindings: LogFields): AgentLogger;
}

function fieldsOf(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [key, value] of Object.entries(fields)) out[key] = value instanceof Error ? value.message : value;
  return out;
}

export function createLogger(minLevel: Level, bindings: LogFields = {}): AgentLogger {
  const line =
    (level: Level) =>
    (fields: LogFields, message: string): void => {
      if (LEVELS[level] < LEVELS[minLevel]) return;
      const record = {
        level: LEVELS[level],
        time: Date.now(),
        pid: process.pid,
        name: 'vfs-agent',
        ...bindings,
        ...fieldsOf(fields),
        msg: message,
      };
      process.stderr.write(`${JSON.stringify(record)}\n`);
    };
  return {
    debug: line('debug'),
    info: line('info'),
    warn: line('warn'),
    error: line('error'),
    child: (more) => createLogger(minLevel, { ...bindings, ...more }),
  };
}
