// The watch socket on a real replica (issue 21): a client that stops reading while hundreds of title
// PATCHes hit chats with the largest labels allowed gets its obsolete title_changes coalesced, the
// replica's queued bytes stay under the hard limit, and once it reads again it ends with every chat's last
// title; a ChatEvent too large for NOTIFY reaches the watch socket with the full chat, in order; and over
// a real socket pair the hard limit closes with 1008 too_slow. Asserted on the server's metrics.
import { createRealClock } from '@chatd/clock';
import type { Chat } from '@chatd/protocol';
import { startWsServer, useTestDatabase, waitFor } from '@chatd/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import { createServerMetrics } from '../src/server/server-metrics.js';
import type { RunningChatd } from '../src/start-chatd-server.js';
import { createWatchSender, WATCH_TOO_SLOW_REASON } from '../src/server/watch-sender.js';
import { MAX_LABELS, MAX_LABELS_BYTES } from '../src/server/chat-body.js';
import { apiClient, startTestReplica, userToken } from './helpers/server-harness.js';
import { demoTitleText } from '../src/model/task-prompts.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });

const COALESCE_THRESHOLD_BYTES = 64 * 1024;
const MAX_QUEUED_BYTES = 2 * 1024 * 1024;
/** Chats PATCHed side by side (one sequence of PATCHes each, so each chat's last title is known). */
const CHATS = 6;
/**
 * PATCHes per chat. A never-read loopback socket absorbs about 4 MB in kernel buffers before
 * `bufferedAmount` grows; 6 x 250 events of ~5.3 kB are ~8 MB, well past that.
 */
const PATCHES_PER_CHAT = 250;

type WatchFrame = { kind: string; chat?: Chat & { labels?: Record<string, string> }; truncated?: boolean };

/** Labels as large as the limits allow (32 labels, just under 4096 bytes of JSON). */
function biggestLabels(): Record<string, string> {
  const labels: Record<string, string> = {};
  for (let i = 0; i < MAX_LABELS; i++) labels[`k${String(i).padStart(2, '0')}`] = '';
  const room = MAX_LABELS_BYTES - Buffer.byteLength(JSON.stringify(labels));
  const each = Math.floor(room / MAX_LABELS);
  for (const k of Object.keys(labels)) labels[k] = 'v'.repeat(each);
  return labels;
}

/** A 200-code-point title (~770 bytes of UTF-8) unique to `i`. */
const bigTitle = (chat: number, i: number) => `${chat}-${String(i).padStart(4, '0')} ${'\u{1F600}'.repeat(193)}`;

function openWatch(url: string, token: string) {
  const frames: WatchFrame[] = [];
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/api/experimental/chats/watch`, { headers: { 'coder-session-token': token }, perMessageDeflate: false });
  let close: { code: number; reason: string } | undefined;
  ws.on('message', (d) => frames.push(JSON.parse(String(d)) as WatchFrame));
  ws.on('close', (code, reason) => (close = { code, reason: String(reason) }));
  ws.on('error', () => {});
  // The server pings once its subscriptions are in place.
  const ready = new Promise<void>((resolve) => ws.once('ping', () => resolve()));
  return {
    ws,
    frames,
    ready,
    get close() {
      return close;
    },
    /**
     * The client socket stops reading: the server's writes back up. `ws.pause()`, not its raw socket's: ws resumes a
     * raw socket it paused itself whenever its frame parser drains, unless the WebSocket is paused.
     */
    pause: () => ws.pause(),
    resume: () => ws.resume(),
  };
}

describe('watch socket back-pressure on a real replica', () => {
  let replica: RunningChatd;
  let token: string;
  let api: ReturnType<typeof apiClient>;
  beforeAll(async () => {
    replica = await startTestReplica(db.url, { watchSender: { coalesceThresholdBytes: COALESCE_THRESHOLD_BYTES, maxQueuedBytes: MAX_QUEUED_BYTES } });
    ({ token } = await userToken(replica, 'watcher'));
    api = apiClient(replica.url, token);
  });
  afterAll(async () => {
    await replica?.close();
  });

  const metric = (name: Parameters<RunningChatd['server']['metrics']['get']>[0]) => replica.server.metrics.get(name);

  it('a client that does not read: obsolete title_changes are coalesced, queued bytes stay under the limit, no other frame is lost', async () => {
    const watch = openWatch(replica.url, token);
    await watch.ready;
    const labels = biggestLabels();
    const ids: string[] = [];
    for (let c = 0; c < CHATS; c++) {
      const r = await api('POST', '', { content: [{ type: 'text', text: `watched ${c}` }], labels });
      expect(r.status).toBe(201);
      ids.push(r.body.id as string);
    }
    // Let each chat's reply finish (its status changes; inbox notifications have their own socket) while the client still reads.
    await waitFor(() => ids.every((id) => watch.frames.some((f) => f.kind === 'status_change' && f.chat?.id === id && f.chat.status === 'waiting')), {
      what: 'every reply to finish',
      timeoutMs: 30_000,
    });
    // And each chat's generated title (contract.md#generated-titles), which follows its first reply.
    await waitFor(() => ids.every((id) => watch.frames.some((f) => f.kind === 'title_change' && f.chat?.id === id)), { what: 'the generated titles' });
    const before = { frames: watch.frames.length, sent: metric('chatd_watch_events_sent_total') };
    expect(before.sent).toBe(before.frames);

    watch.pause();
    let maxQueued = 0;
    const sample = () => (maxQueued = Math.max(maxQueued, metric('chatd_watch_queued_bytes')));
    await Promise.all(
      ids.map(async (id, c) => {
        for (let i = 0; i < PATCHES_PER_CHAT; i++) {
          const r = await api('PATCH', `/${id}`, { title: bigTitle(c, i) });
          expect(r.status).toBe(204);
          sample();
        }
      }),
    );
    // The client has read nothing since the pause: the replica coalesced instead of queueing without bound.
    sample();
    expect(metric('chatd_watch_events_coalesced_total')).toBeGreaterThan(0);
    expect(maxQueued).toBeGreaterThan(0);
    expect(maxQueued).toBeLessThanOrEqual(MAX_QUEUED_BYTES);
    expect(metric('chatd_watch_clients_cut_total')).toBe(0);
    expect(metric('chatd_watch_events_dropped_total')).toBe(0);

    watch.resume();
    const finalTitles = ids.map((_, c) => bigTitle(c, PATCHES_PER_CHAT - 1));
    await waitFor(() => ids.every((id, c) => watch.frames.some((f) => f.kind === 'title_change' && f.chat?.id === id && f.chat.title === finalTitles[c])), {
      what: 'every chat\'s last title',
      timeoutMs: 30_000,
    });
    await waitFor(() => metric('chatd_watch_queued_bytes') === 0, { what: 'the queue to drain' });
    await waitFor(() => watch.frames.length - before.frames === metric('chatd_watch_events_sent_total') - before.sent, { what: 'every sent frame to arrive' });
    // Every title_change was sent or coalesced away, none dropped; the client got exactly the sent ones.
    const titleEvents = CHATS * PATCHES_PER_CHAT;
    expect(metric('chatd_watch_events_sent_total') - before.sent + metric('chatd_watch_events_coalesced_total')).toBe(titleEvents);
    const titles = watch.frames.slice(before.frames);
    expect(titles.every((f) => f.kind === 'title_change')).toBe(true);
    expect(titles.length + metric('chatd_watch_events_coalesced_total')).toBe(titleEvents);
    for (const [c, id] of ids.entries()) {
      const mine = titles.filter((f) => f.chat?.id === id);
      // In PATCH order, ending with the last one; the chat is whole (labels included).
      const order = mine.map((f) => Number(f.chat!.title.split(' ')[0]!.split('-')[1]));
      expect(order).toEqual([...order].sort((a, b) => a - b));
      expect(mine.at(-1)!.chat!.title).toBe(finalTitles[c]);
      expect(mine.at(-1)!.chat!.labels).toEqual(labels);
    }
    watch.ws.close();
  }, 120_000);

  it('a ChatEvent over the NOTIFY limit reaches the watch socket with the full chat read from the database, in order (contract.md#oversized-events)', async () => {
    // A user of its own: the refetch counter then counts this one watch socket.
    const own = await userToken(replica, 'oversized');
    const api = apiClient(replica.url, own.token);
    const watch = openWatch(replica.url, own.token);
    await watch.ready;
    const big = await api('POST', '', { content: [{ type: 'text', text: 'big' }] });
    const small = await api('POST', '', { content: [{ type: 'text', text: 'small' }] });
    const bigId = big.body.id as string;
    const smallId = small.body.id as string;
    await waitFor(() => [bigId, smallId].every((id) => watch.frames.some((f) => f.kind === 'status_change' && f.chat?.id === id && f.chat.status === 'waiting')), {
      what: 'both replies to finish',
      timeoutMs: 30_000,
    });
    // The generated titles follow the first replies (contract.md#generated-titles).
    await waitFor(() => [bigId, smallId].every((id) => watch.frames.some((f) => f.kind === 'title_change' && f.chat?.id === id)), { what: 'the generated titles' });
    // A last_error far over the NOTIFY limit, written as a failed run would leave it.
    const lastError = { message: 'provider down', detail: 'e'.repeat(12_000) };
    await replica.chatd.pool.query(`UPDATE chats SET last_error = $2 WHERE id = $1`, [bigId, JSON.stringify(lastError)]);
    const refetched = metric('chatd_watch_events_refetched_total');
    const from = watch.frames.length;
    const full = (await replica.chatd.chats.getChat(bigId))!;
    // Back to back: the truncated event's database read must not let the small event overtake it.
    await replica.publisher.publishChatEvent('title_change', full);
    await replica.publisher.publishChatEvent('title_change', (await replica.chatd.chats.getChat(smallId))!);
    // Only the title changes count here: a run's late status change may still arrive.
    const titleChanges = () => watch.frames.slice(from).filter((f) => f.kind === 'title_change');
    await waitFor(() => titleChanges().length >= 2, { what: 'both title changes' });
    const [first, second] = titleChanges();
    expect(first).toMatchObject({ kind: 'title_change', chat: { id: bigId, last_error: lastError, title: demoTitleText('big') } });
    expect(first!.truncated).toBeUndefined();
    expect(first!.chat!.created_at).toBeDefined();
    expect(second).toMatchObject({ kind: 'title_change', chat: { id: smallId } });
    expect(metric('chatd_watch_events_refetched_total')).toBe(refetched + 1);

    // Through the API too: a PATCH of the big chat's title arrives whole.
    expect((await api('PATCH', `/${bigId}`, { title: 'still big' })).status).toBe(204);
    await waitFor(() => watch.frames.some((f) => f.kind === 'title_change' && f.chat?.id === bigId && f.chat.title === 'still big'), { what: 'the PATCHed title' });
    expect(watch.frames.at(-1)).toMatchObject({ chat: { last_error: lastError } });
    watch.ws.close();
  });
});

describe('watch sockets of one user share one subscription', () => {
  let replica: RunningChatd;
  beforeAll(async () => {
    replica = await startTestReplica(db.url);
  });
  afterAll(async () => {
    await replica?.close();
  });

  it('three sockets of one user: one listener per channel, a truncated event read once, the same frames on every socket; the last to leave unsubscribes', async () => {
    const { token } = await userToken(replica, 'many-tabs');
    const api = apiClient(replica.url, token);
    const listeners = () => replica.chatd.pubsub.metrics!().listeners;
    const before = listeners();
    const tabs = [openWatch(replica.url, token), openWatch(replica.url, token), openWatch(replica.url, token)];
    await Promise.all(tabs.map((t) => t.ready));
    // One listener on the user's chat channel, however many sockets (inbox notifications have their own socket).
    expect(listeners()).toBe(before + 1);
    const created = await api('POST', '', { content: [{ type: 'text', text: 'shared' }] });
    const id = created.body.id as string;
    await waitFor(() => tabs.every((t) => t.frames.some((f) => f.kind === 'status_change' && f.chat?.id === id && f.chat.status === 'waiting')), { what: 'the reply on every tab', timeoutMs: 30_000 });
    // The generated title follows the first reply (contract.md#generated-titles); it must not meet the oversized error below.
    await waitFor(() => tabs.every((t) => t.frames.some((f) => f.kind === 'title_change' && f.chat?.id === id)), { what: 'the generated title on every tab' });
    const lastError = { message: 'provider down', detail: 'e'.repeat(12_000) };
    await replica.chatd.pool.query(`UPDATE chats SET last_error = $2 WHERE id = $1`, [id, JSON.stringify(lastError)]);
    const refetched = replica.server.metrics.get('chatd_watch_events_refetched_total');
    await replica.publisher.publishChatEvent('title_change', (await replica.chatd.chats.getChat(id))!);
    await waitFor(() => tabs.every((t) => t.frames.some((f) => f.kind === 'title_change' && f.chat?.last_error)), { what: 'the oversized event on every tab' });
    // Read from the database once for the user, not once per socket.
    expect(replica.server.metrics.get('chatd_watch_events_refetched_total')).toBe(refetched + 1);
    const seen = tabs.map((t) => JSON.stringify(t.frames));
    expect(new Set(seen).size).toBe(1);
    for (const t of tabs.slice(0, 2)) t.ws.close();
    await waitFor(() => replica.server.metrics.get('chatd_ws_connections', { kind: 'watch' }) === 1, { what: 'two tabs closed' });
    expect(listeners()).toBe(before + 1);
    tabs[2]!.ws.close();
    await waitFor(() => listeners() === before, { what: 'the last tab to unsubscribe the user' });
  });
});

describe('watch sender over a real socket pair', () => {
  it('a client that never reads is closed with 1008 too_slow once the queue passes the hard limit; it sees the frames sent before', async () => {
    const metrics = createServerMetrics();
    let senderClosed = false;
    let pushed = 0;
    const server = await startWsServer((socket) => {
      const sender = createWatchSender(socket, { clock: createRealClock(), metrics, coalesceThresholdBytes: 16 * 1024, maxQueuedBytes: 256 * 1024, onClose: () => (senderClosed = true) });
      const json = JSON.stringify({ kind: 'created', chat: { id: 'x', pad: 'p'.repeat(8000) } });
      // Frames that never coalesce, far more than the kernel buffers and the hard limit hold together.
      for (let i = 0; i < 2000 && !senderClosed; i++, pushed++) sender.push({ json: json.replace('"x"', `"${i}"`) });
    });
    try {
      const client = new WebSocket(server.url, { perMessageDeflate: false });
      let received = 0;
      let close: { code: number; reason: string } | undefined;
      client.on('message', () => received++);
      client.on('close', (code, reason) => (close = { code, reason: String(reason) }));
      client.on('error', () => {});
      // Paused from the moment of the upgrade: it reads nothing while the server pushes.
      client.once('upgrade', (res) => res.socket.pause());
      const opened = new Promise<void>((resolve) => client.once('open', () => resolve()));
      await waitFor(() => senderClosed, { what: 'the cut', timeoutMs: 15_000 });
      expect(metrics.get('chatd_watch_clients_cut_total')).toBe(1);
      expect(metrics.get('chatd_watch_queued_bytes')).toBe(0);
      const sent = metrics.get('chatd_watch_events_sent_total');
      // Every frame pushed was either sent or dropped by the cut; nothing was coalesced.
      expect(metrics.get('chatd_watch_events_dropped_total')).toBeGreaterThan(0);
      expect(sent + metrics.get('chatd_watch_events_dropped_total')).toBe(pushed);
      expect(metrics.get('chatd_watch_events_coalesced_total')).toBe(0);
      await opened;
      (client as unknown as { _socket: { resume(): void } })._socket.resume();
      await waitFor(() => received > 0, { what: 'the first frames' });
      await waitFor(() => close !== undefined, { what: 'the close frame', timeoutMs: 15_000 });
      expect(close).toEqual({ code: 1008, reason: WATCH_TOO_SLOW_REASON });
      expect(received).toBe(sent);
    } finally {
      await server.close();
    }
  });
});
