import { createMockClock } from '@chatd/clock';
import { describe, expect, it } from 'vitest';
import { createRateLimiter } from '../src/index.js';

describe('createRateLimiter', () => {
  it('starts full: a (10, 5/s) bucket allows 10 and refuses the 11th', () => {
    const rl = createRateLimiter({ maxTokens: 10, refillRatePerSecond: 5, clock: createMockClock() });
    for (let i = 0; i < 10; i++) expect(rl.allow()).toBe(true);
    expect(rl.allow()).toBe(false);
  });

  it('refills on the injected clock: 5 at 100/s allows again 60 ms later', async () => {
    const clock = createMockClock();
    const rl = createRateLimiter({ maxTokens: 5, refillRatePerSecond: 100, clock });
    for (let i = 0; i < 5; i++) rl.allow();
    expect(rl.allow()).toBe(false);
    await clock.advance(60);
    for (let i = 0; i < 5; i++) expect(rl.allow()).toBe(true);
    expect(rl.allow()).toBe(false);
  });

  it('refills continuously, capped at the capacity', async () => {
    const clock = createMockClock();
    const rl = createRateLimiter({ maxTokens: 3, refillRatePerSecond: 100, clock });
    for (let i = 0; i < 3; i++) rl.allow();
    await clock.advance(5); // half a token
    expect(rl.allow()).toBe(false);
    expect(rl.tokens()).toBeCloseTo(0.5);
    await clock.advance(5);
    expect(rl.allow()).toBe(true);
    await clock.advance(60_000);
    for (let i = 0; i < 3; i++) expect(rl.allow()).toBe(true);
    expect(rl.allow()).toBe(false);
  });

  it('never refills at rate 0', async () => {
    const clock = createMockClock();
    const rl = createRateLimiter({ maxTokens: 2, refillRatePerSecond: 0, clock });
    expect(rl.allow()).toBe(true);
    expect(rl.allow()).toBe(true);
    await clock.advance(3_600_000);
    expect(rl.allow()).toBe(false);
  });

  it('handles fractional and zero capacities as the original does', () => {
    const clock = createMockClock();
    const frac = createRateLimiter({ maxTokens: 1.5, refillRatePerSecond: 0, clock });
    expect(frac.allow()).toBe(true);
    expect(frac.allow()).toBe(false);
    expect(frac.tokens()).toBe(0.5);
    const zero = createRateLimiter({ maxTokens: 0, refillRatePerSecond: 100, clock });
    expect(zero.allow()).toBe(false);
  });

  it('tokens() reports the stored value without refilling', async () => {
    const clock = createMockClock();
    const rl = createRateLimiter({ maxTokens: 4, refillRatePerSecond: 1000, clock });
    rl.allow();
    rl.allow();
    await clock.advance(1000);
    expect(rl.tokens()).toBe(2);
    rl.allow();
    expect(rl.tokens()).toBe(3);
  });

  it('does not drain when the clock is set backwards', () => {
    const clock = createMockClock();
    const rl = createRateLimiter({ maxTokens: 2, refillRatePerSecond: 10, clock });
    rl.allow();
    clock.set(clock.nowMs() - 60_000);
    expect(rl.allow()).toBe(true);
    expect(rl.tokens()).toBe(0);
  });

  it('defaults to the real clock', () => {
    const rl = createRateLimiter({ maxTokens: 1, refillRatePerSecond: 0 });
    expect(rl.allow()).toBe(true);
    expect(rl.allow()).toBe(false);
  });
});
