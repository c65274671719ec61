// Bounded memory for long histories through a real replica (issue 21 item 2): stream clients that do not read
// a history many times their sender's limit are cut with too_slow / 1008 after about that limit, not after
// the server has read and queued the whole history for each; a reading client of the same chat gets every
// message once. GET /{chat}/messages stops a page at MAX_MESSAGES_PAGE_BYTES with has_more.
import { useTestDatabase, waitFor } from '@chatd/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import type { RunningChatd } from '../src/start-chatd-server.js';
import { CLOSE_TOO_SLOW } from '../src/server/stream-sender.js';
import { MAX_MESSAGES_PAGE_BYTES } from '../src/store/chat-store.js';
import type { ChatStreamEvent } from '@chatd/protocol';
import { SNAPSHOT_PAGE_BYTES } from '../src/subscribe/chat-subscriber.js';
import { apiClient, openStream, startTestReplica, userToken } from './helpers/server-harness.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });

/** History messages of MESSAGE_CHARS each: one per snapshot page (two pass SNAPSHOT_PAGE_BYTES), eight per GET page. */
const HISTORY = 24;
const MESSAGE_CHARS = 1_000_000;
/** Snapshot pages of the whole history (the chat's first, small message shares the first page). */
const HISTORY_PAGES = HISTORY;
const COALESCE_THRESHOLD_BYTES = 64 * 1024;
/** Far below the history (~24 MB), and more than one page: the sender waits for a stalled client at its polls before it cuts it. */
const MAX_QUEUED_BYTES = 1536 * 1024;
const NON_READERS = 4;

let replica: RunningChatd;
let token: string;
let chatId: string;
/** Visible message ids, ascending. */
let ids: number[];

beforeAll(async () => {
  replica = await startTestReplica(db.url, {
    config: { databaseUrl: db.url, worker: false },
    sender: { coalesceThresholdBytes: COALESCE_THRESHOLD_BYTES, maxQueuedBytes: MAX_QUEUED_BYTES },
  });
  ({ token } = await userToken(replica, 'historian'));
  const created = await apiClient(replica.url, token)('POST', '', { content: [{ type: 'text', text: 'hello' }] });
  chatId = created.body.id as string;
  await replica.chatd.pool.query(
    `INSERT INTO chat_messages (chat_id, role, content, created_at)
     SELECT $1, 'assistant', jsonb_build_array(jsonb_build_object('type', 'text', 'text', repeat(chr(97 + g % 26), $2))), now()
       FROM generate_series(1, $3) g ORDER BY g`,
    [chatId, MESSAGE_CHARS, HISTORY],
  );
  const { rows } = await replica.chatd.pool.query<{ id: string }>(`SELECT id FROM chat_messages WHERE chat_id = $1 AND visibility IN ('user', 'both') ORDER BY id`, [chatId]);
  ids = rows.map((r) => Number(r.id));
});
afterAll(async () => {
  await replica?.close();
});

/** A stream client that stops reading its socket as soon as it is open (the kernel buffers fill, then the server's). */
function nonReader() {
  const events: ChatStreamEvent[] = [];
  let closeCode: number | undefined;
  const ws = new WebSocket(`${replica.url.replace(/^http/, 'ws')}/api/experimental/chats/${chatId}/stream`, { headers: { 'coder-session-token': token }, perMessageDeflate: false });
  ws.on('upgrade', (res) => res.socket.pause());
  ws.on('message', (data) => events.push(...(JSON.parse(String(data)) as ChatStreamEvent[])));
  ws.on('close', (code) => (closeCode = code));
  ws.on('error', () => {});
  return {
    ws,
    events,
    get closeCode() {
      return closeCode;
    },
    resume: () => (ws as unknown as { _socket: { resume(): void } })._socket.resume(),
  };
}

const messageIds = (events: ChatStreamEvent[]) => events.flatMap((e) => (e.type === 'message' ? [e.message.id] : []));

describe('long history: paged snapshots', () => {
  it('clients that do not read are cut with too_slow after about the sender limit, having cost a few pages each; a reading client gets every message once', async () => {
    const m = replica.server.metrics;
    const sub = () => replica.subscriber.metrics();
    const droppedBefore = m.get('chatd_stream_dropped_bytes_total');
    const stalledBefore = m.get('chatd_stream_stalled_waits_total');

    const pagesBefore = sub().snapshotPagesRead;
    const reader = openStream(replica.url, chatId, token);
    await reader.until((e) => messageIds(e).length === ids.length, 'the reading client to get the whole history', 60_000);
    expect(sub().snapshotPagesRead - pagesBefore).toBe(HISTORY_PAGES);

    // One at a time, so that each one's page reads are its own (none shared).
    const stalled: ReturnType<typeof nonReader>[] = [];
    const pagesEach: number[] = [];
    for (let i = 0; i < NON_READERS; i++) {
      const pages = sub().snapshotPagesRead;
      const cuts = m.get('chatd_stream_slow_clients_cut_total');
      stalled.push(nonReader());
      await waitFor(() => m.get('chatd_stream_slow_clients_cut_total') > cuts, { what: `non-reader ${i} cut`, timeoutMs: 60_000 });
      // Its subscription ends with the cut (ready() false), not when the unread socket finally closes.
      await waitFor(() => sub().active === 1, { what: `non-reader ${i}'s subscription released`, timeoutMs: 10_000 });
      pagesEach.push(sub().snapshotPagesRead - pages);
    }
    // Each read what its socket and sender could hold, well short of the history (the old snapshot read and
    // queued all of it for every client).
    for (const pages of pagesEach) expect(pages).toBeLessThanOrEqual(HISTORY_PAGES / 2);
    // Each was waited for at a poll with a page more than its threshold queued, then fed on to the cut.
    expect(m.get('chatd_stream_stalled_waits_total') - stalledBefore).toBeGreaterThanOrEqual(NON_READERS);
    // What each cut dropped is at most its limit plus the page that passed it.
    const dropped = m.get('chatd_stream_dropped_bytes_total') - droppedBefore;
    expect(dropped).toBeGreaterThan(NON_READERS * MAX_QUEUED_BYTES);
    expect(dropped).toBeLessThanOrEqual(NON_READERS * (MAX_QUEUED_BYTES + SNAPSHOT_PAGE_BYTES + COALESCE_THRESHOLD_BYTES));

    // The reader: the whole history in order, each message once, nothing cut.
    expect(messageIds(reader.events)).toEqual(ids);
    expect(reader.events.some((e) => e.type === 'discontinuity')).toBe(false);

    // Once they read again, each non-reader finds a prefix of the history, then too_slow and close 1008.
    for (const s of stalled) s.resume();
    await waitFor(() => stalled.every((s) => s.closeCode !== undefined), { what: 'the non-readers to see their close', timeoutMs: 60_000 });
    for (const s of stalled) {
      expect(s.closeCode).toBe(CLOSE_TOO_SLOW);
      const got = messageIds(s.events);
      expect(got.length).toBeLessThan(ids.length);
      expect(got).toEqual(ids.slice(0, got.length));
      expect(s.events.at(-1)).toEqual({ type: 'discontinuity', chat_id: chatId, discontinuity: { reason: 'too_slow', resync_after_id: got.at(-1) ?? 0 } });
    }
    reader.close();
    await waitFor(() => sub().active === 0, { what: 'every subscription released' });
    expect(m.get('chatd_stream_queued_bytes')).toBe(0);
    const text = await (await fetch(`${replica.url}/metrics`)).text();
    expect(text).toContain(`chatd_snapshot_pages_read_total ${sub().snapshotPagesRead}`);
    expect(text).toMatch(/^chatd_snapshot_pages_shared_total \d+$/m);
  });
});

describe('long history: GET /{chat}/messages', () => {
  it(`stops a page at ${MAX_MESSAGES_PAGE_BYTES} bytes of messages with has_more; paging on with before_id (or after_id) yields every message once`, async () => {
    const api = apiClient(replica.url, token);
    const perPage = Math.floor(MAX_MESSAGES_PAGE_BYTES / (MESSAGE_CHARS + 64));
    const newestFirst: number[] = [];
    const sizes: number[] = [];
    let before = '';
    for (let more = true; more; ) {
      const page = await api('GET', `/${chatId}/messages?limit=200${before}`);
      expect(page.status).toBe(200);
      const got = (page.body.messages as { id: number }[]).map((x) => x.id);
      sizes.push(got.length);
      newestFirst.push(...got);
      more = page.body.has_more as boolean;
      before = `&before_id=${got.at(-1)}`;
    }
    expect(sizes).toEqual([perPage, perPage, ids.length - 2 * perPage]); // the last page: eight and the small first message
    expect(newestFirst).toEqual([...ids].reverse());

    // after_id=0 means "no after_id" (newest first): start after the first message.
    const oldestFirst: number[] = [ids[0]!];
    let after = ids[0]!;
    for (let more = true; more; ) {
      const page = await api('GET', `/${chatId}/messages?limit=200&after_id=${after}`);
      // after_id alone lists ascending (contract.md#history-order).
      const got = (page.body.messages as { id: number }[]).map((x) => x.id);
      oldestFirst.push(...got);
      more = page.body.has_more as boolean;
      after = got.at(-1)!;
    }
    expect(oldestFirst).toEqual(ids);
  });
});
