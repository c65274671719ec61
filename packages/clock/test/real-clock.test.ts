import { describe, expect, it } from 'vitest';
import { createRealClock } from '../src/index.js';

describe('createRealClock', () => {
  it('reads wall time', () => {
    const clock = createRealClock();
    const before = Date.now();
    const now = clock.nowMs();
    expect(now).toBeGreaterThanOrEqual(before);
    expect(Math.abs(clock.now().getTime() - Date.now())).toBeLessThan(1000);
  });

  it('fires a real timer and a cancelled one never fires', async () => {
    const clock = createRealClock({ unref: true });
    let cancelledFired = false;
    clock.setTimeout(() => (cancelledFired = true), 1).cancel();
    await new Promise<void>((resolve) => clock.setTimeout(resolve, 1));
    expect(cancelledFired).toBe(false);
  });

  it('sleep honours an already-aborted signal', async () => {
    const clock = createRealClock();
    await expect(clock.sleep(10_000, AbortSignal.abort(new Error('gone')))).rejects.toThrow('gone');
  });
});
