// `isTimestamp` (the zod-free check other packages' fast paths use) accepts exactly what `timestampSchema` accepts.
import { describe, expect, it } from 'vitest';
import { isTimestamp, timestampSchema } from '../src/index.js';

describe('isTimestamp', () => {
  it('agrees with timestampSchema', () => {
    const cases: unknown[] = [
      '2026-05-01T00:00:00Z',
      '2026-05-01T00:00:00.123456789Z',
      '2026-05-01T00:00:00.1234567891Z',
      '2026-05-01T00:00:00+02:00',
      '2026-05-01T00:00:00',
      '2026-05-01 00:00:00Z',
      '',
      'x',
      3,
      null,
      undefined,
      new Date(0),
    ];
    for (const v of cases) expect(isTimestamp(v), String(v)).toBe(timestampSchema.safeParse(v).success);
  });
});
