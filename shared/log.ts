// Structured logs: one JSON object per line on stdout, for humans through `jq`
// and for log pipelines as is. Never pass secrets in fields.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Structured logging by level; `always` lines print at every level. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** Lifecycle lines (listening, drained) that supervisors read: printed at every level. */
  always(msg: string, fields?: Record<string, unknown>): void;
}

export function isLogLevel(value: string): value is LogLevel {
  return value in RANK;
}

/** A logger writing one JSON object per line (see the module comment). */
export function createLogger(
  component: string,
  level: LogLevel = 'info',
  write: (line: string) => void = (line) => process.stdout.write(line),
): Logger {
  const emit =
    (at: LogLevel, force = false) =>
    (msg: string, fields: Record<string, unknown> = {}) => {
      if (!force && RANK[at] < RANK[level]) return;
      const record: Record<string, unknown> = { ts: new Date().toISOString(), level: at, component, msg, ...fields };
      if (fields.err instanceof Error) record.err = fields.err.message;
      write(`${JSON.stringify(record)}\n`);
    };
  return {
    debug: emit('debug'),
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
    always: emit('info', true),
  };
}
