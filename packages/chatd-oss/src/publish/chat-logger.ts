// The small structured logger the publisher and the worker write to (pino's call shape, so a pino
// logger fits as is). Logging is best effort: a logger that throws is the caller's bug, not ours to hide.

/** A structured logger: an object of fields, then a message. */
export interface ChatLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const noop = (): void => {};

/** A logger that drops everything (the default). */
export const NOOP_CHAT_LOGGER: ChatLogger = { debug: noop, info: noop, warn: noop, error: noop };
