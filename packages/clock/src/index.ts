export type { Clock, Timer, Ticker, TimerTag } from './clock.js';
export { toMs, abortReason } from './clock.js';
export { ClockError } from './clock-error.js';
export type { ClockErrorCode } from './clock-error.js';
export { createRealClock } from './real-clock.js';
export type { RealClockOptions } from './real-clock.js';
export { createMockClock, DEFAULT_WAIT_TIMEOUT_MS } from './mock-clock.js';
export type { MockClock, MockClockOptions, PendingTimer, TimerFilter, TimerTrap, WaitOptions } from './mock-clock.js';
