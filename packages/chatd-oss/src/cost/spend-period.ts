// Spend-limit periods (contract.md#cost): calendar periods in UTC. A day starts at 00:00 UTC, a week on Monday
// 00:00 UTC (ISO weeks), a month on its 1st at 00:00 UTC. `resets_at` is the start of the next period.
import { ChatdError } from '../chatd-error.js';

/** A spend limit's period. */
export type SpendPeriod = 'day' | 'week' | 'month';

/** The periods, for validation messages. */
export const SPEND_PERIODS: readonly SpendPeriod[] = ['day', 'week', 'month'];

/** Checks a period name (INVALID_INPUT with a `period` validation otherwise). */
export function parseSpendPeriod(value: unknown): SpendPeriod {
  if (typeof value === 'string' && (SPEND_PERIODS as readonly string[]).includes(value)) return value as SpendPeriod;
  throw new ChatdError('INVALID_INPUT', 'Invalid spend limit period.', { validations: [{ field: 'period', detail: 'must be day, week or month' }] });
}

/** The period containing `now`: its start (inclusive) and the next period's start. */
export function periodBounds(period: SpendPeriod, now: Date): { start: Date; resetsAt: Date } {
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth();
  const d = now.getUTCDate();
  if (period === 'day') return { start: new Date(Date.UTC(y, m, d)), resetsAt: new Date(Date.UTC(y, m, d + 1)) };
  if (period === 'month') return { start: new Date(Date.UTC(y, m, 1)), resetsAt: new Date(Date.UTC(y, m + 1, 1)) };
  // getUTCDay: Sunday 0 ... Saturday 6; days since Monday.
  const sinceMonday = (now.getUTCDay() + 6) % 7;
  return { start: new Date(Date.UTC(y, m, d - sinceMonday)), resetsAt: new Date(Date.UTC(y, m, d - sinceMonday + 7)) };
}
