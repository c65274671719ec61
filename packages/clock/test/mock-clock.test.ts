import { describe, expect, it } from 'vitest';
import { ClockError, createMockClock, type Clock } from '../src/index.js';

// A timer-driven loop of the kind chatd uses (heartbeats, pollers): it awaits async work,
// then re-arms a tagged timer. The test drives it without any real waiting.
function startHeartbeat(clock: Clock, intervalMs: number, beat: (atMs: number) => Promise<void>) {
  let stopped = false;
  let timer: ReturnType<Clock['setTimeout']> | undefined;
  const loop = () => {
    timer = clock.setTimeout(async () => {
      await beat(clock.nowMs());
      if (!stopped) loop();
    }, intervalMs, 'heartbeat');
  };
  loop();
  return () => {
    stopped = true;
    timer?.cancel();
  };
}

describe('createMockClock', () => {
  it('starts at the given time and only moves when advanced', async () => {
    const clock = createMockClock({ now: new Date('2026-03-01T00:00:00Z') });
    expect(clock.now().toISOString()).toBe('2026-03-01T00:00:00.000Z');
    await clock.advance(1500);
    expect(clock.nowMs()).toBe(Date.parse('2026-03-01T00:00:01.500Z'));
    expect(clock.since(Date.parse('2026-03-01T00:00:00Z'))).toBe(1500);
    expect(clock.until(Date.parse('2026-03-01T00:00:02Z'))).toBe(500);
  });

  it('drives a timer-driven async loop deterministically with no real waiting', async () => {
    const clock = createMockClock({ now: 0 });
    const beats: number[] = [];
    const realStart = performance.now();
    const stop = startHeartbeat(clock, 1000, async (at) => {
      await Promise.resolve();
      beats.push(at);
    });
    for (let i = 0; i < 50; i++) {
      const t = await clock.waitForTimer({ tag: 'heartbeat' });
      expect(t.delayMs).toBe(1000);
      await clock.advanceNext();
    }
    stop();
    expect(beats).toEqual(Array.from({ length: 50 }, (_, i) => (i + 1) * 1000));
    expect(clock.pendingTimers()).toEqual([]);
    // 50 simulated seconds passed in far less than one real second.
    expect(performance.now() - realStart).toBeLessThan(1000);
  });

  it('advance fires due timers in order and lets promises settle between them', async () => {
    const clock = createMockClock({ now: 0 });
    const order: string[] = [];
    clock.setTimeout(() => order.push('b@200'), 200);
    clock.setTimeout(() => {
      order.push('a@100');
      void Promise.resolve().then(() => clock.setTimeout(() => order.push('c@150'), 50));
    }, 100);
    await clock.advance(199);
    expect(order).toEqual(['a@100', 'c@150']);
    await clock.advance(1);
    expect(order).toEqual(['a@100', 'c@150', 'b@200']);
  });

  it('waitForTimer resolves at once for a pending timer and later for one armed afterwards', async () => {
    const clock = createMockClock();
    clock.setTimeout(() => {}, 10, 'early');
    await expect(clock.waitForTimer({ tag: 'early' })).resolves.toMatchObject({ tag: 'early', delayMs: 10 });
    const waiting = clock.waitForTimer({ tag: 'late' });
    void Promise.resolve().then(() => clock.setTimeout(() => {}, 30, 'late'));
    await expect(waiting).resolves.toMatchObject({ tag: 'late', delayMs: 30 });
  });

  it('waitForTimer fails with WAIT_TIMEOUT instead of hanging', async () => {
    const clock = createMockClock();
    const err = await clock.waitForTimer({ tag: 'never' }, { timeoutMs: 20 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClockError);
    expect((err as ClockError).code).toBe('WAIT_TIMEOUT');
  });

  it('a trap catches timers armed after it, in order', async () => {
    const clock = createMockClock();
    clock.setTimeout(() => {}, 5, 'x');
    const trap = clock.trap({ tag: 'x' });
    clock.setTimeout(() => {}, 7, 'x');
    clock.setTimeout(() => {}, 9, 'y');
    clock.setTimeout(() => {}, 11, 'x');
    expect((await trap.wait()).delayMs).toBe(7);
    expect((await trap.wait()).delayMs).toBe(11);
    trap.close();
  });

  it('cancel and reset', async () => {
    const clock = createMockClock({ now: 0 });
    let fired = 0;
    const t = clock.setTimeout(() => fired++, 100);
    expect(t.cancel()).toBe(true);
    expect(t.cancel()).toBe(false);
    await clock.advance(200);
    expect(fired).toBe(0);
    t.reset(50);
    expect(clock.peek()).toBe(50);
    await clock.advance(50);
    expect(fired).toBe(1);
    expect(clock.peek()).toBeUndefined();
  });

  it('setInterval ticks on period and never overlaps a slow async callback', async () => {
    const clock = createMockClock({ now: 0 });
    const ticks: number[] = [];
    let release: (() => void) | undefined;
    const ticker = clock.setInterval(async () => {
      ticks.push(clock.nowMs());
      if (ticks.length === 2) await new Promise<void>((r) => (release = r));
    }, 100, 'poll');
    await clock.advance(100);
    await clock.advance(100);
    expect(ticks).toEqual([100, 200]);
    // The second callback is still running: no timer is armed, so no overlapping tick.
    expect(clock.pendingTimers()).toEqual([]);
    await clock.advance(250);
    release!();
    await clock.waitForTimer({ tag: 'poll' });
    // Missed ticks are skipped, keeping the phase: the next tick is at 500.
    expect(clock.peek()).toBe(50);
    await clock.advance(50);
    expect(ticks).toEqual([100, 200, 500]);
    ticker.stop();
    expect(clock.pendingTimers()).toEqual([]);
  });

  it('sleep resolves after the delay and rejects on abort, leaving no timer', async () => {
    const clock = createMockClock({ now: 0 });
    const done = clock.sleep(1000, undefined, 'nap');
    await clock.waitForTimer({ tag: 'nap' });
    await clock.advance(1000);
    await expect(done).resolves.toBeUndefined();
    const ac = new AbortController();
    const aborted = clock.sleep(1000, ac.signal);
    ac.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
    expect(clock.pendingTimers()).toEqual([]);
  });

  it('set jumps the wall time without firing timers; runAll drains', async () => {
    const clock = createMockClock({ now: 0 });
    let fired = false;
    clock.setTimeout(() => (fired = true), 10);
    clock.set(5_000);
    expect(clock.nowMs()).toBe(5_000);
    expect(fired).toBe(false);
    expect(clock.peek()).toBe(10);
    await clock.runAll();
    expect(fired).toBe(true);
    expect(clock.nowMs()).toBe(5_010);
  });

  it('rejects a negative advance with a typed error', async () => {
    const clock = createMockClock();
    await expect(clock.advance(-1)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
