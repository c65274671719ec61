import { describe, expect, it } from 'vitest';
import { createSemaphore } from '../src/index.js';

describe('createSemaphore', () => {
  it('hands slots out first come, first served and never exceeds the limit', async () => {
    const sem = createSemaphore(2);
    const a = await sem.acquire();
    const b = await sem.acquire();
    const order: string[] = [];
    const c = sem.acquire().then((r) => (order.push('c'), r));
    const d = sem.acquire().then((r) => (order.push('d'), r));
    expect(sem.inUse()).toBe(2);
    a();
    a();
    const releaseC = await c;
    expect(order).toEqual(['c']);
    expect(sem.inUse()).toBe(2);
    b();
    (await d)();
    releaseC();
    expect(sem.inUse()).toBe(0);
  });

  it('drops a waiter whose signal aborts, without using a slot', async () => {
    const sem = createSemaphore(1);
    const held = await sem.acquire();
    const controller = new AbortController();
    const waiting = sem.acquire(controller.signal);
    controller.abort(new Error('gone'));
    await expect(waiting).rejects.toThrow('gone');
    held();
    expect(sem.inUse()).toBe(0);
    await expect(sem.acquire(controller.signal)).rejects.toThrow('gone');
  });

  it('treats a limit below 1 as 1', async () => {
    const sem = createSemaphore(0);
    await sem.acquire();
    expect(sem.inUse()).toBe(1);
  });
});
