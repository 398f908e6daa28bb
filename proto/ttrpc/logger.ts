// What the ttrpc layer needs from a logger. A pino logger fits as it is (`log.warn(fields, msg)`).

export type LogFields = Record<string, unknown>;

export interface TtrpcLogger {
  debug(fields: LogFields, message: string): void;
  warn(fields: LogFields, message: string): void;
  error(fields: LogFields, message: string): void;
}

function lineWriter(level: string): (fields: LogFields, message: string) => void {
  return (fields, message) => {
    process.stderr.write(`${JSON.stringify({ level, msg: message, component: 'ttrpc', ...fields })}\n`);
  };
}

/** Default when the owner passes no logger: JSON lines on stderr, without debug noise. */
export const stderrLogger: TtrpcLogger = {
  debug: () => undefined,
  warn: lineWriter('warn'),
  error: lineWriter('error'),
};
