// @chatd/clock for browsers (the `browser` export condition): the Clock port and the real clock, without the
// mock clock, whose @sinonjs/fake-timers needs Node's `util`. Browser-safe packages (@chatd/client) import
// `@chatd/clock` as usual; a browser bundler picks this entry.
export type { Clock, Timer, Ticker, TimerTag } from './clock.js';
export { toMs, abortReason } from './clock.js';
export { ClockError } from './clock-error.js';
export type { ClockErrorCode } from './clock-error.js';
export { createRealClock } from './real-clock.js';
export type { RealClockOptions } from './real-clock.js';
