// Subscriptions: registration, push delivery (pull, iterator, batches, callback), replay from an
// index, the slow-subscriber cut at its exact boundary, unsubscribe and cleanup with live subscribers.
import { describe, expect, it } from 'vitest';
import type { ChannelsError, MsgEntry, RouterWarning, Subscription } from '../src/index.js';
import {
  CHANNEL_SUBSCRIBER_BUFFER_SIZE,
  createRouterWithoutRateLimit,
  ErrSubscriberTooSlow,
  MSG_TYPE_END,
  ZERO_TIMESTAMP_MS,
} from '../src/index.js';
import { bytes, chan, settle, text } from './helpers.js';

function setup(options: Parameters<typeof createRouterWithoutRateLimit>[0] = {}) {
  const r = createRouterWithoutRateLimit(options);
  r.create(chan('ch', 'p', { submitterId: 'u', executorId: 'e' }));
  return r;
}

const texts = (entries: MsgEntry[]): string[] => entries.map((e) => (e.error !== '' ? `!${e.error}` : text(e.payload)));

async function drain(sub: Subscription): Promise<MsgEntry[]> {
  const out: MsgEntry[] = [];
  for await (const e of sub) out.push(e);
  return out;
}

describe('subscribe and unsubscribe', () => {
  it('counts a subscription, and unsubscribe drops it; unsubscribe twice is harmless', () => {
    const r = setup();
    const sub = r.subscribe('ch', 'u');
    expect(r.subscriberCount('ch')).toBe(1);
    r.unsubscribe('ch', sub);
    expect(r.subscriberCount('ch')).toBe(0);
    r.unsubscribe('ch', sub);
    sub.close();
    expect(sub.closed).toBe(true);
    expect(sub.done).toBe(true);
  });

  it('refuses a stranger with UNAUTHORIZED and an unknown channel with CHANNEL_NOT_FOUND', () => {
    const warnings: RouterWarning[] = [];
    const r = setup({ onWarning: (w) => warnings.push(w) });
    expect(() => r.subscribe('ch', 'stranger')).toThrow(expect.objectContaining({ code: 'UNAUTHORIZED' }));
    expect(() => r.subscribe('nope', 'u')).toThrow(expect.objectContaining({ code: 'CHANNEL_NOT_FOUND' }));
    expect(r.subscriberCount('ch')).toBe(0);
    expect(r.subscriberCount('nope')).toBe(0);
    expect(warnings).toEqual([{ kind: 'unauthorized', operation: 'subscribe', channelId: 'ch', callerId: 'stranger' }]);
  });

  it('an executor append is available to the submitter at once, without waiting', () => {
    const r = setup();
    const sub = r.subscribe('ch', 'u');
    r.append('ch', 'e', 1, 0, bytes('hi'));
    expect(sub.pending).toBe(1);
    expect(texts(sub.read())).toEqual(['hi']);
    expect(sub.pending).toBe(0);
  });

  it('does not replay the backlog by default', () => {
    const r = setup();
    r.append('ch', 'u', 1, 0, bytes('old'));
    const sub = r.subscribe('ch', 'u');
    r.append('ch', 'u', 2, 0, bytes('new'));
    expect(texts(sub.read())).toEqual(['new']);
  });

  it('broadcasts to several subscribers; after one leaves the other still receives', () => {
    const r = setup();
    const a = r.subscribe('ch', 'u');
    const b = r.subscribe('ch', 'u');
    expect(r.subscriberCount('ch')).toBe(2);
    r.append('ch', 'e', 1, 0, bytes('one'));
    expect(texts(a.read())).toEqual(['one']);
    expect(texts(b.read())).toEqual(['one']);
    a.close();
    r.append('ch', 'e', 2, 0, bytes('two'));
    expect(a.read()).toEqual([]);
    expect(texts(b.read())).toEqual(['two']);
  });

  it('unsubscribe with the wrong channel id or an unknown channel is a no-op', () => {
    const r = setup();
    r.create(chan('other', 'p', { submitterId: 'u' }));
    const sub = r.subscribe('ch', 'u');
    r.unsubscribe('other', sub);
    r.unsubscribe('nope', sub);
    expect(r.subscriberCount('ch')).toBe(1);
    expect(sub.closed).toBe(false);
  });

  it('unsubscribe ignores an object that is not one of its subscriptions', () => {
    const r = setup();
    const sub = r.subscribe('ch', 'u');
    const fake = { ...sub, channelId: 'ch' } as unknown as Subscription;
    r.unsubscribe('ch', fake);
    expect(r.subscriberCount('ch')).toBe(1);
  });

  it('entries queued before unsubscribe stay readable, then the stream ends', async () => {
    const r = setup();
    const sub = r.subscribe('ch', 'u');
    r.append('ch', 'e', 1, 0, bytes('a'));
    r.unsubscribe('ch', sub);
    r.append('ch', 'e', 2, 0, bytes('b'));
    expect(texts(await drain(sub))).toEqual(['a']);
    expect(sub.error).toBeUndefined();
  });

  it('checks authorisation only at subscribe time', () => {
    const r = setup();
    const sub = r.subscribe('ch', 'e');
    r.setExecutorId('ch', 'e2');
    r.append('ch', 'u', 1, 0, bytes('still'));
    expect(texts(sub.read())).toEqual(['still']);
  });

  it('delivers live in arrival order while the log reads sorted', () => {
    const r = setup();
    const sub = r.subscribe('ch', 'u');
    for (const s of [3, 1, 2]) r.append('ch', 'e', s, 0, bytes(`e${s}`));
    expect(texts(sub.read())).toEqual(['e3', 'e1', 'e2']);
    expect(texts(r.readAfter('ch', 'u', 0, 0))).toEqual(['e1', 'e2', 'e3']);
    r.append('ch', 'e', 4, 0, bytes('e4'));
    expect(texts(sub.read())).toEqual(['e4']);
  });
});

describe('pull forms', () => {
  it('next() waits for an append and resolves with it', async () => {
    const r = setup();
    const sub = r.subscribe('ch', 'u');
    const p = sub.next();
    let resolved = false;
    void p.then(() => (resolved = true));
    await settle();
    expect(resolved).toBe(false);
    r.append('ch', 'e', 1, 0, bytes('x'));
    const res = await p;
    expect(res.done).toBe(false);
    expect(text(res.value?.payload ?? null)).toBe('x');
  });

  it('two overlapping next() calls get consecutive entries in call order', async () => {
    const r = setup();
    const sub = r.subscribe('ch', 'u');
    const p1 = sub.next();
    const p2 = sub.next();
    r.append('ch', 'e', 1, 0, bytes('1'));
    r.append('ch', 'e', 2, 0, bytes('2'));
    expect(text((await p1).value?.payload ?? null)).toBe('1');
    expect(text((await p2).value?.payload ?? null)).toBe('2');
  });

  it('read(max) takes at most max', () => {
    const r = setup();
    const sub = r.subscribe('ch', 'u');
    for (let i = 1; i <= 5; i++) r.append('ch', 'e', i, 0, bytes(`${i}`));
    expect(texts(sub.read(2))).toEqual(['1', '2']);
    expect(texts(sub.read(0))).toEqual([]);
    expect(texts(sub.read())).toEqual(['3', '4', '5']);
  });

  it('wait() resolves on append or end', async () => {
    const r = setup();
    const sub = r.subscribe('ch', 'u');
    const w = sub.wait();
    r.append('ch', 'e', 1, 0, null);
    await w;
    expect(sub.pending).toBe(1);
    sub.read();
    const w2 = sub.wait();
    sub.close();
    await w2;
    expect(sub.done).toBe(true);
  });

  it('for await ends when the process is cleaned up; break unsubscribes', async () => {
    const r = setup();
    const sub = r.subscribe('ch', 'u');
    const got = drain(sub);
    r.append('ch', 'e', 1, 0, bytes('a'));
    await settle();
    r.append('ch', 'e', 2, 0, bytes('b'));
    r.cleanupProcess('p');
    expect(texts(await got)).toEqual(['a', 'b']);

    const r2 = setup();
    const sub2 = r2.subscribe('ch', 'u');
    r2.append('ch', 'e', 1, 0, null);
    for await (const e of sub2) {
      expect(e.sequence).toBe(1);
      break;
    }
    expect(r2.subscriberCount('ch')).toBe(0);
  });

  it('batches() yields what is readable at once and stops at the end', async () => {
    const r = setup();
    const sub = r.subscribe('ch', 'u');
    const seen: string[][] = [];
    const loop = (async () => {
      for await (const batch of sub.batches()) seen.push(texts(batch));
    })();
    r.append('ch', 'e', 1, 0, bytes('a'));
    r.append('ch', 'e', 2, 0, bytes('b'));
    await settle();
    r.append('ch', 'e', 3, 0, bytes('c'));
    await settle();
    sub.close();
    await loop;
    expect(seen).toEqual([['a', 'b'], ['c']]);
  });

  it('leaving batches() early unsubscribes', async () => {
    const r = setup();
    const sub = r.subscribe('ch', 'u');
    r.append('ch', 'e', 1, 0, null);
    for await (const batch of sub.batches()) {
      expect(batch).toHaveLength(1);
      break;
    }
    expect(r.subscriberCount('ch')).toBe(0);
  });
});

describe('callback form', () => {
  it('delivers batches from a microtask, never inside append', async () => {
    const r = setup();
    const batches: string[][] = [];
    r.subscribe('ch', 'u', { onEntries: (b) => batches.push(texts([...b])) });
    r.append('ch', 'e', 1, 0, bytes('a'));
    r.append('ch', 'e', 2, 0, bytes('b'));
    expect(batches).toEqual([]);
    await settle();
    r.append('ch', 'e', 3, 0, bytes('c'));
    await settle();
    expect(batches).toEqual([['a', 'b'], ['c']]);
  });

  it('subscribers in step share one batch array', async () => {
    const r = setup();
    const got: (readonly MsgEntry[])[] = [];
    r.subscribe('ch', 'u', { onEntries: (b) => got.push(b) });
    r.subscribe('ch', 'e', { onEntries: (b) => got.push(b) });
    r.append('ch', 'e', 1, 0, null);
    await settle();
    expect(got).toHaveLength(2);
    expect(got[0]).toBe(got[1]);
  });

  it('calls onEnd once after the last batch: undefined on unsubscribe and cleanup', async () => {
    const r = setup();
    const events: string[] = [];
    const sub = r.subscribe('ch', 'u', {
      onEntries: (b) => events.push(...texts([...b])),
      onEnd: (err) => events.push(`end:${err?.code ?? 'none'}`),
    });
    r.subscribe('ch', 'e', { onEntries: () => undefined, onEnd: (err) => events.push(`end2:${err?.code ?? 'none'}`) });
    r.append('ch', 'e', 1, 0, bytes('a'));
    sub.close();
    sub.close();
    await settle();
    r.cleanupProcess('p');
    await settle();
    expect(events).toEqual(['a', 'end:none', 'end2:none']);
  });

  it('reports a throwing callback and keeps delivering', async () => {
    const warnings: RouterWarning[] = [];
    const r = setup({ onWarning: (w) => warnings.push(w) });
    let calls = 0;
    r.subscribe('ch', 'u', {
      onEntries: () => {
        calls++;
        throw new Error('consumer bug');
      },
    });
    r.append('ch', 'e', 1, 0, null);
    await settle();
    r.append('ch', 'e', 2, 0, null);
    await settle();
    expect(calls).toBe(2);
    expect(warnings.map((w) => w.kind)).toEqual(['callback_error', 'callback_error']);
  });

  it('reports a throwing onEnd', async () => {
    const warnings: RouterWarning[] = [];
    const r = setup({ onWarning: (w) => warnings.push(w) });
    const sub = r.subscribe('ch', 'u', {
      onEntries: () => undefined,
      onEnd: () => {
        throw new Error('bad onEnd');
      },
    });
    sub.close();
    await settle();
    expect(warnings).toEqual([{ kind: 'callback_error', channelId: 'ch', callerId: 'u', error: new Error('bad onEnd') }]);
  });

  it('a callback may append to the same channel; the new entry comes in a later batch', async () => {
    const r = setup();
    const seen: number[] = [];
    r.subscribe('ch', 'u', {
      onEntries: (b) => {
        for (const e of b) {
          seen.push(e.sequence);
          if (e.senderId === 'e') r.append('ch', 'u', e.sequence + 100, e.sequence, null);
        }
      },
    });
    r.append('ch', 'e', 1, 0, null);
    await settle();
    expect(seen).toEqual([1, 101]);
  });
});

describe('replay from an index (snapshot then live)', () => {
  it('afterIndex 0 replays the whole log, then live entries, with no gap and no duplicate', async () => {
    const r = setup();
    for (let i = 1; i <= 3; i++) r.append('ch', 'e', i, 0, bytes(`${i}`));
    const sub = r.subscribe('ch', 'u', { afterIndex: 0 });
    r.append('ch', 'e', 4, 0, bytes('4'));
    expect(texts(sub.read())).toEqual(['1', '2', '3', '4']);
    const cb: string[] = [];
    r.subscribe('ch', 'u', { afterIndex: 2, onEntries: (b) => cb.push(...texts([...b])) });
    r.append('ch', 'e', 5, 0, bytes('5'));
    await settle();
    expect(cb).toEqual(['3', '4', '5']);
  });

  it('position tells where to resume: a new subscription from it misses nothing and repeats nothing', async () => {
    const r = setup();
    const first = r.subscribe('ch', 'u', { afterIndex: 0 });
    for (let i = 1; i <= 4; i++) r.append('ch', 'e', i, 0, bytes(`${i}`));
    expect(texts(first.read(2))).toEqual(['1', '2']);
    expect(first.position).toBe(2);
    first.close();
    r.append('ch', 'e', 5, 0, bytes('5'));
    const resumed = r.subscribe('ch', 'u', { afterIndex: first.position });
    expect(texts(resumed.read())).toEqual(['3', '4', '5']);
    expect(resumed.position).toBe(5);
  });

  it('negative afterIndex counts as 0; past the end means live only', () => {
    const r = setup();
    r.append('ch', 'e', 1, 0, bytes('1'));
    expect(texts(r.subscribe('ch', 'u', { afterIndex: -4 }).read())).toEqual(['1']);
    const live = r.subscribe('ch', 'u', { afterIndex: 99 });
    r.append('ch', 'e', 2, 0, bytes('2'));
    expect(texts(live.read())).toEqual(['2']);
  });

  it('replayed entries do not count against the buffer', () => {
    const r = setup();
    for (let i = 1; i <= 10; i++) r.append('ch', 'e', i, 0, null);
    const sub = r.subscribe('ch', 'u', { afterIndex: 0, bufferSize: 2 });
    r.append('ch', 'e', 11, 0, null);
    r.append('ch', 'e', 12, 0, null);
    expect(sub.closed).toBe(false);
    expect(sub.read()).toHaveLength(12);
    r.append('ch', 'e', 13, 0, null);
    r.append('ch', 'e', 14, 0, null);
    r.append('ch', 'e', 15, 0, null);
    expect(sub.closed).toBe(true);
  });
});

describe('slow subscribers', () => {
  it('buffer 3: three unread keep the subscriber, the fourth cuts it; the append still succeeds', async () => {
    const warnings: RouterWarning[] = [];
    const r = setup({ onWarning: (w) => warnings.push(w) });
    r.setSubscriberBufferSize(3);
    const sub = r.subscribe('ch', 'u');
    for (let i = 0; i < 3; i++) r.append('ch', 'e', i, 0, bytes(`m${i}`));
    expect(r.subscriberCount('ch')).toBe(1);
    expect(sub.closed).toBe(false);
    r.append('ch', 'e', 3, 0, bytes('m3'));
    expect(r.getLogSize('ch')).toBe(4);
    expect(r.subscriberCount('ch')).toBe(0);
    expect(sub.closed).toBe(true);
    expect(sub.error?.code).toBe(ErrSubscriberTooSlow.code);
    expect(warnings).toEqual([{ kind: 'subscriber_cut', channelId: 'ch', callerId: 'u', bufferSize: 3 }]);
    r.append('ch', 'e', 4, 0, bytes('m4'));
    r.append('ch', 'e', 5, 0, bytes('m5'));
    // As in the original: the oldest unread entry makes room for the terminal entry.
    expect(texts(await drain(sub))).toEqual(['m1', 'm2', '!subscriber disconnected: buffer full']);
  });

  it('a cut while still replaying drops the oldest live entry, not a replayed one', () => {
    const r = setup({ maxLogEntries: 100 });
    for (let i = 1; i <= 3; i++) r.append('ch', 'e', i, 0, bytes(`old${i}`));
    const sub = r.subscribe('ch', 'u', { afterIndex: 0, bufferSize: 2 });
    expect(texts(sub.read(1))).toEqual(['old1']);
    for (let i = 1; i <= 3; i++) r.append('ch', 'e', 10 + i, 0, bytes(`new${i}`));
    expect(sub.closed).toBe(true);
    expect(sub.pending).toBe(4);
    expect(texts(sub.read())).toEqual(['old2', 'old3', 'new2', '!subscriber disconnected: buffer full']);
    expect(sub.done).toBe(true);
  });

  it('the terminal entry has only the error set, with Go zero values elsewhere', () => {
    const r = setup({ subscriberBufferSize: 1 });
    const sub = r.subscribe('ch', 'u');
    r.append('ch', 'e', 1, 0, bytes('a'));
    r.append('ch', 'e', 2, 0, bytes('b'));
    expect(sub.pending).toBe(1);
    expect(sub.read()).toEqual([
      { sequence: 0, inReplyTo: 0, timestampMs: ZERO_TIMESTAMP_MS, senderId: '', payload: null, type: '', error: 'subscriber disconnected: buffer full' },
    ]);
    expect(sub.done).toBe(true);
  });

  it('buffer 2 and five appends: the last item before the end carries the too-slow error', async () => {
    const r = setup({ subscriberBufferSize: 2 });
    const sub = r.subscribe('ch', 'u');
    for (let i = 1; i <= 5; i++) r.append('ch', 'e', i, 0, null);
    const items = await drain(sub);
    expect(items.at(-1)?.error).toBe('subscriber disconnected: buffer full');
    expect(items).toHaveLength(2);
  });

  it('one slow and one fast subscriber: only the slow one is removed', () => {
    const r = setup({ subscriberBufferSize: 3 });
    const slow = r.subscribe('ch', 'u');
    const fast = r.subscribe('ch', 'u');
    let got = 0;
    for (let i = 1; i <= 10; i++) {
      r.append('ch', 'e', i, 0, null);
      got += fast.read().length;
    }
    expect(got).toBe(10);
    expect(r.subscriberCount('ch')).toBe(1);
    expect(slow.closed).toBe(true);
    expect(fast.closed).toBe(false);
  });

  it('the default buffer is 10,000: 10,000 unread keep it, the 10,001st cuts it', () => {
    const r = setup({ maxLogEntries: 20_000 });
    const sub = r.subscribe('ch', 'u');
    expect(sub.bufferSize).toBe(CHANNEL_SUBSCRIBER_BUFFER_SIZE);
    for (let i = 1; i <= 10_000; i++) r.append('ch', 'e', i, 0, null);
    expect(sub.closed).toBe(false);
    expect(sub.pending).toBe(10_000);
    r.append('ch', 'e', 10_001, 0, null);
    expect(sub.closed).toBe(true);
    expect(sub.pending).toBe(10_000); // 9,999 entries + the terminal entry
  });

  it('a subscriber that keeps reading is never cut', () => {
    const r = setup({ subscriberBufferSize: 2, maxLogEntries: 100_000 });
    const sub = r.subscribe('ch', 'u');
    for (let i = 1; i <= 50_000; i++) {
      r.append('ch', 'e', i, 0, null);
      if (i % 2 === 0) sub.read();
    }
    expect(sub.closed).toBe(false);
  });

  it('a cut callback subscriber gets the entries before the overflow, the terminal entry, then onEnd with the error', async () => {
    const r = setup({ subscriberBufferSize: 3 });
    const got: string[] = [];
    let endErr: ChannelsError | undefined;
    r.subscribe('ch', 'u', { onEntries: (b) => got.push(...texts([...b])), onEnd: (e) => (endErr = e) });
    for (let i = 0; i < 6; i++) r.append('ch', 'e', i, 0, bytes(`m${i}`));
    await settle();
    expect(got).toEqual(['m1', 'm2', '!subscriber disconnected: buffer full']);
    expect(endErr?.code).toBe('SUBSCRIBER_TOO_SLOW');
  });

  it('unsubscribe after a cut is harmless', () => {
    const r = setup({ subscriberBufferSize: 1 });
    const sub = r.subscribe('ch', 'u');
    r.append('ch', 'e', 1, 0, null);
    r.append('ch', 'e', 2, 0, null);
    r.unsubscribe('ch', sub);
    sub.close();
    expect(r.subscriberCount('ch')).toBe(0);
    expect(sub.error?.code).toBe('SUBSCRIBER_TOO_SLOW');
  });

  it('a buffer of 0 counts as 1 and never blocks the appender; existing subscriptions keep their size', () => {
    const r = setup();
    const before = r.subscribe('ch', 'u');
    r.setSubscriberBufferSize(0);
    const zero = r.subscribe('ch', 'u');
    expect(zero.bufferSize).toBe(1);
    expect(before.bufferSize).toBe(10_000);
    expect(r.subscribe('ch', 'u', { bufferSize: -3 }).bufferSize).toBe(1);
    r.append('ch', 'e', 1, 0, null);
    r.append('ch', 'e', 2, 0, null);
    expect(zero.closed).toBe(true);
    expect(before.closed).toBe(false);
  });

  it('an iterator waiting on a cut subscriber is woken and sees the terminal entry', async () => {
    const r = setup({ subscriberBufferSize: 1 });
    const sub = r.subscribe('ch', 'u');
    const first = sub.next();
    r.append('ch', 'e', 1, 0, null); // consumed by the waiting next() at once
    r.append('ch', 'e', 2, 0, null);
    r.append('ch', 'e', 3, 0, null); // 2 unread > 1: cut
    expect((await first).value?.sequence).toBe(1);
    const rest = await drain(sub);
    expect(rest.map((e) => e.error)).toEqual(['subscriber disconnected: buffer full']);
  });
});

describe('cleanup with live subscribers', () => {
  it('drops the count to 0, ends streams without an error entry, and a later unsubscribe is a no-op', async () => {
    const r = setup();
    const a = r.subscribe('ch', 'u');
    const b = r.subscribe('ch', 'e');
    r.append('ch', 'e', 1, 0, bytes('queued'));
    r.cleanupProcess('p');
    expect(r.subscriberCount('ch')).toBe(0);
    expect(a.closed && b.closed).toBe(true);
    r.unsubscribe('ch', a);
    a.close();
    expect(texts(await drain(a))).toEqual(['queued']);
    expect(a.error).toBeUndefined();
    expect(texts(await drain(b))).toEqual(['queued']);
  });

  it('wakes a waiting iterator with the end of the stream', async () => {
    const r = setup();
    const sub = r.subscribe('ch', 'u');
    const p = sub.next();
    r.cleanupProcess('p');
    expect(await p).toEqual({ value: undefined, done: true });
  });

  it('old subscriptions stay ended when the channel id is created again', () => {
    const r = setup();
    const old = r.subscribe('ch', 'u');
    r.cleanupProcess('p');
    r.create(chan('ch', 'p', { submitterId: 'u' }));
    const fresh = r.subscribe('ch', 'u');
    old.close();
    r.append('ch', 'u', 1, 0, null);
    expect(r.subscriberCount('ch')).toBe(1);
    expect(old.read()).toEqual([]);
    expect(fresh.read()).toHaveLength(1);
  });

  it('end-of-stream protocol: a subscriber gets token1, token2 then end, in order', async () => {
    const r = setup();
    const sub = r.subscribe('ch', 'u');
    r.append('ch', 'e', 1, 1, bytes('token1'));
    r.append('ch', 'e', 2, 1, bytes('token2'));
    r.appendWithType('ch', 'e', 3, 1, null, MSG_TYPE_END);
    const got: MsgEntry[] = [];
    for await (const e of sub) {
      got.push(e);
      if (e.type === MSG_TYPE_END) break;
    }
    expect(got.map((e) => `${e.type}:${text(e.payload)}`)).toEqual(['data:token1', 'data:token2', 'end:']);
  });
});
