// The one logger port of @chatd/oss: every part (store wiring, worker, publisher, subscriber, server, the
// enterprise hook) logs through this shape. It is pino's call shape, so the pino logger the composition
// root (create-chatd.ts) builds fits as is; nothing else in the package imports pino.
// Logging is best effort: a logger that throws is the caller's bug, not ours to hide.

/** A structured logger: an object of fields, then a message. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const noop = (): void => {};

/** A logger that drops everything (the default of the parts that take an optional logger). */
export const NOOP_LOGGER: Logger = { debug: noop, info: noop, warn: noop, error: noop };
