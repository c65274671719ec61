// The minimal structured logger gitsync logs through (pino-shaped: fields first, message second), and a
// silent default. Background loops report through it instead of throwing.

/** Structured logger used by the worker and refresher. */
export interface GitSyncLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const noop = (): void => undefined;

/** A logger that drops everything (the default). */
export const silentLogger: GitSyncLogger = { debug: noop, info: noop, warn: noop, error: noop };
