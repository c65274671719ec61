// Slow clients on a real replica (contract.md#coalescing): a reply of tens of thousands of
// small deltas goes to a fast client and to one behind a proxy that is stalled except for short,
// event-driven windows. The throttled client ends with the same text through coalesced parts; the fast
// one gets every seq. A client that cannot keep up even after coalescing gets `too_slow` and close 1008,
// and createChatClient.stream resumes from there to the final message.
import { createTcpProxy, useTestDatabase, waitFor, type TcpProxy } from '@chatd/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createChatClient, type ChatClient } from '@chatd/client';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import { createTestModel, finishPart, fixedModels, lastUserText, usage } from './helpers/test-models.js';
import type { RunningChatd } from '../src/start-chatd-server.js';
import { partText, type ChatStreamEvent } from '@chatd/protocol';
import { startTestReplica, userToken } from './helpers/server-harness.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });

// A never-read loopback socket absorbs about 4 MB in kernel buffers before `ws.bufferedAmount` grows, so
// the replies are several MB on the wire, while their text stays under the 4 MiB a persisted message may hold.
/**
 * Deltas of the throttled chat: 100 bytes of text each (~7.5 MB on the wire, 3 MB of text). Small deltas put more
 * wire bytes per byte of text: with 400-byte deltas (5.4 MB on the wire) the loopback buffers sometimes absorbed
 * nearly all of it and nothing was coalesced (seen in a clean CI run).
 */
const THROTTLED_DELTAS = 30_000;
/** Deltas of the too-slow chat: 80 bytes each, alternating text and reasoning so that nothing can be merged (~6 MB on the wire). */
const UNMERGEABLE_DELTAS = 24_000;
const DELTA_TEXT = 'abcdefghij'.repeat(10);
const SHORT_DELTA_TEXT = 'abcdefghij'.repeat(8);
/** Deltas of the slow consumer's chat: 80 bytes of text each (~7.5 MB on the wire, 2.4 MB of text). */
const SHORT_DELTAS = 30_000;
/** Deltas produced per turn of the event loop (the fast client reads between turns). */
const DELTAS_PER_TURN = 100;
const COALESCE_THRESHOLD_BYTES = 32 * 1024;
/** Above the throttled chat's whole text: coalescing always saves that client. */
const ROOMY_MAX_QUEUED_BYTES = 8 * 1024 * 1024;
/** Far below the too-slow chat's unmergeable backlog (MBs once the kernel buffers are full). */
const TIGHT_MAX_QUEUED_BYTES = 128 * 1024;

/**
 * A model for bulk replies: the prompt `bulk <n> <text|short|alternate>` streams n deltas (100 or 80 bytes), yielding to the
 * event loop every DELTAS_PER_TURN. It waits until the test opens the prompt's gate, so that every
 * client is subscribed before the first part.
 */
function createBulkModel() {
  const gates = new Map<string, { open: () => void; opened: Promise<void> }>();
  const gate = (prompt: string) => {
    let g = gates.get(prompt);
    if (!g) {
      let open!: () => void;
      const opened = new Promise<void>((resolve) => (open = resolve));
      g = { open, opened };
      gates.set(prompt, g);
    }
    return g;
  };
  const provider = createTestModel('bulk', async function* (call) {
    const prompt = lastUserText(call);
    const [, count, mode] = prompt.split(' ');
    await gate(prompt).opened;
    const n = Number(count);
    for (let i = 0; i < n; i++) {
      if (call.abortSignal?.aborted) return;
      yield { type: mode === 'alternate' && i % 2 === 1 ? 'reasoning-delta' : 'text-delta', id: 'bulk', delta: `${i % 10}${(mode === 'text' ? DELTA_TEXT : SHORT_DELTA_TEXT).slice(1)}` };
      if (i % DELTAS_PER_TURN === DELTAS_PER_TURN - 1) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    yield finishPart('stop', usage(1, n));
  });
  return { provider, open: (prompt: string) => gate(prompt).open() };
}

const bulk = createBulkModel();

/** Starts a replica with the bulk model and these sender limits; returns it with a user's token. */
async function startReplica(maxQueuedBytes: number) {
  const replica = await startTestReplica(db.url, { models: fixedModels(bulk.provider), sender: { coalesceThresholdBytes: COALESCE_THRESHOLD_BYTES, maxQueuedBytes } });
  const { token } = await userToken(replica, `slowpoke-${maxQueuedBytes}`);
  return { replica, token, client: createChatClient({ baseUrl: replica.url, token }) };
}

type Part = Extract<ChatStreamEvent, { type: 'message_part' }>;
const isPart = (e: ChatStreamEvent): e is Part => e.type === 'message_part';
const textOf = (events: ChatStreamEvent[], type: 'text' | 'reasoning' = 'text') =>
  events
    .filter(isPart)
    .filter((e) => e.message_part.part.type === type)
    .map((e) => partText(e.message_part.part) ?? '')
    .join('');
const finalText = (events: ChatStreamEvent[]) => {
  const m = events.filter((e) => e.type === 'message' && e.message.role === 'assistant').at(-1);
  return m?.type === 'message' ? (m.message.content ?? []).filter((p) => p.type === 'text').map((p) => partText(p) ?? '').join('') : undefined;
};

/** Tracks, one event at a time, whether the reply is done: its message seen and the chat `waiting` (a snapshot sends the status first). */
function createDoneTracker() {
  let message = false;
  let status = '';
  return {
    see(e: ChatStreamEvent) {
      if (e.type === 'message' && e.message.role === 'assistant') message = true;
      else if (e.type === 'status') status = e.status.status;
    },
    get done() {
      return message && status === 'waiting';
    },
  };
}

/** A raw stream socket through `port`, recording every event. */
function rawStream(port: number, chatId: string, token: string, onFrame: () => void = () => {}) {
  const events: ChatStreamEvent[] = [];
  const tracker = createDoneTracker();
  let closeCode: number | undefined;
  const ws = new WebSocket(`ws://127.0.0.1:${port}/api/experimental/chats/${chatId}/stream`, { headers: { 'coder-session-token': token }, perMessageDeflate: false });
  ws.on('message', (data) => {
    for (const e of JSON.parse(String(data)) as ChatStreamEvent[]) {
      events.push(e);
      tracker.see(e);
    }
    onFrame();
  });
  ws.on('close', (code) => (closeCode = code));
  ws.on('error', () => {});
  return {
    ws,
    events,
    get done() {
      return tracker.done;
    },
    get closeCode() {
      return closeCode;
    },
    opened: new Promise<void>((resolve) => ws.once('open', () => resolve())),
  };
}

describe('slow clients: coalescing', () => {
  let replica: RunningChatd;
  let token: string;
  let client: ChatClient;
  beforeAll(async () => {
    ({ replica, token, client } = await startReplica(ROOMY_MAX_QUEUED_BYTES));
  });
  afterAll(async () => {
    await replica?.close();
  });

  it('a throttled client ends with the same text as a fast client through coalesced parts; the fast client gets every seq', async () => {
    const prompt = `bulk ${THROTTLED_DELTAS} text`;
    const chat = await client.create(prompt);
    const proxy: TcpProxy = await createTcpProxy({ port: replica.port });
    try {
      // Event-driven throttle: the throttled link is stalled, and opens only until it has delivered one
      // frame each time the fast client has seen another 1000 events; fully once the reply is done.
      let windows = 0;
      const throttled = rawStream(proxy.port, chat.id, token, () => {
        if (!fastDone) proxy.stall();
      });
      let fastDone = false;
      let nextWindowAt = 1000;
      const fast = rawStream(replica.port, chat.id, token, () => {
        if (fast.events.length >= nextWindowAt && !fastDone) {
          nextWindowAt += 1000;
          windows++;
          proxy.resume();
        }
        if (fast.done) {
          fastDone = true;
          proxy.resume();
        }
      });
      await Promise.all([throttled.opened, fast.opened]);
      await waitFor(() => throttled.events.length > 0 && fast.events.length > 0, { what: 'both snapshots' });
      proxy.stall();
      bulk.open(prompt);
      await waitFor(() => fast.done, { what: 'the fast client to see the whole reply', timeoutMs: 30_000 });
      await waitFor(() => throttled.done, { what: 'the throttled client to catch up', timeoutMs: 30_000 });

      const final = finalText(fast.events)!;
      const fastParts = fast.events.filter(isPart);
      expect(fastParts.map((p) => p.message_part.seq)).toEqual(fastParts.map((_, i) => i + 1));
      expect(fastParts).toHaveLength(THROTTLED_DELTAS);
      expect(textOf(fast.events)).toBe(final);

      const slowParts = throttled.events.filter(isPart);
      expect(textOf(throttled.events)).toBe(final);
      expect(finalText(throttled.events)).toBe(final);
      // Coalesced: fewer, longer parts whose seqs still rise and end at the last delta's seq.
      expect(slowParts.length).toBeLessThan(THROTTLED_DELTAS);
      const seqs = slowParts.map((p) => p.message_part.seq);
      expect(seqs.every((s, i) => i === 0 || s > seqs[i - 1]!)).toBe(true);
      expect(seqs.at(-1)).toBe(THROTTLED_DELTAS);
      expect(throttled.events.some((e) => e.type === 'discontinuity')).toBe(false);
      expect(windows).toBeGreaterThan(0);
      expect(replica.server.metrics.get('chatd_stream_parts_coalesced_total')).toBeGreaterThan(0);
      throttled.ws.close();
      fast.ws.close();
    } finally {
      await proxy.close();
    }
  });

  it('a createChatClient.stream consumer slower than the stream stops its socket reading and gets the reply through coalesced parts', async () => {
    const prompt = `bulk ${SHORT_DELTAS} short (a slow consumer)`;
    const chat = await client.create(prompt);
    const fast = rawStream(replica.port, chat.id, token);
    await fast.opened;
    const before = replica.server.metrics.get('chatd_stream_parts_coalesced_total');
    const seen: ChatStreamEvent[] = [];
    const tracker = createDoneTracker();
    const stop = new AbortController();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const consumed = (async () => {
      for await (const e of client.stream(chat.id, { signal: stop.signal })) {
        seen.push(e);
        tracker.see(e);
        // Busy elsewhere until the reply is over: the client stops reading once its buffer is full.
        if (seen.length === 1) {
          bulk.open(prompt);
          await released;
        }
        if (tracker.done) stop.abort();
      }
    })();
    await waitFor(() => fast.done, { what: 'the reply', timeoutMs: 30_000 });
    release();
    await consumed;
    const final = finalText(fast.events)!;
    expect(finalText(seen)).toBe(final);
    expect(textOf(seen)).toBe(final);
    expect(seen.filter(isPart).length).toBeLessThan(SHORT_DELTAS);
    expect(seen.some((e) => e.type === 'discontinuity')).toBe(false);
    expect(replica.server.metrics.get('chatd_stream_parts_coalesced_total')).toBeGreaterThan(before);
    fast.ws.close();
  });
});

describe('slow clients: the cut', () => {
  let replica: RunningChatd;
  let token: string;
  let client: ChatClient;
  beforeAll(async () => {
    ({ replica, token, client } = await startReplica(TIGHT_MAX_QUEUED_BYTES));
  });
  afterAll(async () => {
    await replica?.close();
  });

  it('a client too slow even for coalescing gets too_slow and close 1008; createChatClient.stream resumes to the final message', async () => {
    const prompt = `bulk ${UNMERGEABLE_DELTAS} alternate`;
    const chat = await client.create(prompt);
    const proxy: TcpProxy = await createTcpProxy({ port: replica.port });
    const cutsBefore = replica.server.metrics.get('chatd_stream_slow_clients_cut_total');
    try {
      const slowClient = createChatClient({ baseUrl: `http://127.0.0.1:${proxy.port}`, token, reconnect: { minDelayMs: 10, maxDelayMs: 100 } });
      const fast = rawStream(replica.port, chat.id, token);
      const seen: ChatStreamEvent[] = [];
      const tracker = createDoneTracker();
      let cut = false;
      const closeCodes: number[] = [];
      const stop = new AbortController();
      const consumed = (async () => {
        for await (const e of slowClient.stream(chat.id, { signal: stop.signal, onReconnect: (end) => end.closeCode !== undefined && closeCodes.push(end.closeCode) })) {
          seen.push(e);
          tracker.see(e);
          if (e.type === 'discontinuity') cut = true;
          if (seen.length === 1) {
            // Subscribed: from now on the link carries nothing until the server has cut this client.
            proxy.stall();
            bulk.open(prompt);
          }
          if (tracker.done && cut) stop.abort();
        }
      })();
      await waitFor(() => replica.server.metrics.get('chatd_stream_slow_clients_cut_total') > cutsBefore, { what: 'the server to cut the slow client', timeoutMs: 30_000 });
      await waitFor(() => fast.done, { what: 'the reply', timeoutMs: 30_000 });
      proxy.resume();
      await consumed;

      const disc = seen.filter((e) => e.type === 'discontinuity');
      expect(disc).toHaveLength(1);
      expect(disc[0]).toMatchObject({ type: 'discontinuity', discontinuity: { reason: 'too_slow' } });
      expect(closeCodes[0]).toBe(1008);
      // After the discontinuity the client trusts the messages that follow: the final reply is whole.
      const final = finalText(fast.events)!;
      expect(finalText(seen)).toBe(final);
      // Before the cut, what arrived was a prefix of the reply, in order, never a part twice.
      const before = seen.slice(0, seen.indexOf(disc[0]!));
      expect(final.startsWith(textOf(before))).toBe(true);
      const keys = seen.filter(isPart).map((p) => `${p.message_part.run_id}:${p.message_part.seq}`);
      expect(new Set(keys).size).toBe(keys.length);
      // The fast client on the same chat was not affected.
      expect(fast.events.filter(isPart)).toHaveLength(UNMERGEABLE_DELTAS);
      expect(fast.events.some((e) => e.type === 'discontinuity')).toBe(false);
      fast.ws.close();
    } finally {
      await proxy.close();
    }
  });
});
