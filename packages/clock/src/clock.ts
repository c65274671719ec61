// The Clock port: every piece of chatd code that waits or reads the time takes one.
// It mirrors the shape of Go's quartz clock (timers with tags, tickers, now/since/until)
// so tests can swap in the mock clock and never sleep. It does not schedule work itself.

/** A one-shot timer armed by `Clock.setTimeout`. */
export interface Timer {
  /** Disarms the timer; returns true if it had not fired yet. Idempotent. */
  cancel(): boolean;
  /** Re-arms the timer to fire `ms` from now, whether or not it already fired. */
  reset(ms: number): void;
}

/** A repeating ticker armed by `Clock.setInterval` or `Clock.every`. */
export interface Ticker {
  /** Stops the ticker; no callback starts after this returns. Idempotent. */
  stop(): void;
}

/** Optional tag a timer is armed with, so a test can wait for that particular timer. */
export type TimerTag = string;

/** Time source and timer factory. Durations are milliseconds. */
export interface Clock {
  /** The current time as epoch milliseconds. */
  nowMs(): number;
  /** The current time as a `Date`. */
  now(): Date;
  /** Milliseconds elapsed since `t` (negative if `t` is in the future). */
  since(t: Date | number): number;
  /** Milliseconds until `t` (negative if `t` is in the past). */
  until(t: Date | number): number;
  /** Calls `fn` once after `ms`. */
  setTimeout(fn: () => void, ms: number, tag?: TimerTag): Timer;
  /** Calls `fn` every `ms`; ticks never overlap a still-running async callback. */
  setInterval(fn: () => void | Promise<void>, ms: number, tag?: TimerTag): Ticker;
  /** Resolves after `ms`; rejects with the signal's reason when `signal` aborts first. */
  sleep(ms: number, signal?: AbortSignal, tag?: TimerTag): Promise<void>;
}

/** Normalises a `Date | number` to epoch milliseconds. */
export function toMs(t: Date | number): number {
  return typeof t === 'number' ? t : t.getTime();
}

/** Converts an abort signal's reason into an Error to reject with. */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  const err = new Error(typeof reason === 'string' ? reason : 'The operation was aborted');
  err.name = 'AbortError';
  return err;
}
