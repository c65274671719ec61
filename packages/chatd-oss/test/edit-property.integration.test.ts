// Property (issue 28 acceptance, contract.md#history-reset): random sends, edits and reconnects with cursors, drawn
// from a seeded PRNG against a real replica and real sockets, racing the runs they start; once the chat rests every
// client holds exactly the visible history (`GET /messages`) and no in-flight part. Clients resume with the cursor
// of @chatd/client (`after_id`, `run_id` + `after_seq`), so a client away during an edit must get its reset from
// the snapshot. A failing seed replays the same operations.
import { createRealClock } from '@chatd/clock';
import { createStreamCursor, type StreamCursor } from '@chatd/client';
import { pick, seededRandom, useTestDatabase, waitFor } from '@chatd/testkit';
import type { ChatMessage, ChatStreamEvent } from '@chatd/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import type { RunningChatd } from '../src/start-chatd-server.js';
import { heldHistory } from './helpers/history-holder.js';
import { apiClient, startTestReplica, userToken } from './helpers/server-harness.js';
import { createTestModel, finishPart, fixedModels, lastUserText, textDelta } from './helpers/test-models.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });

const SEEDS = [28, 2028, 424242];
/** Operations per seed. */
const STEPS = 40;
const CLIENTS = 3;
/** Pace of the replies: a part every this many ms (the model's own pace), so operations land mid-run. */
const PART_MS = 3;

/** Replies "reply to <text>" word by word. */
function pacedModel() {
  const clock = createRealClock();
  return createTestModel('paced', async function* (call) {
    for (const word of `reply to ${lastUserText(call)}`.split(' ')) {
      yield textDelta(`${word} `);
      await clock.sleep(PART_MS, call.abortSignal);
    }
    yield finishPart();
  });
}

let replica: RunningChatd;
let token: string;
let api: ReturnType<typeof apiClient>;
beforeAll(async () => {
  replica = await startTestReplica(db.url, { models: fixedModels(pacedModel()) });
  ({ token } = await userToken(replica, 'property'));
  api = apiClient(replica.url, token);
});
afterAll(async () => {
  await replica?.close();
});

/** A stream client that keeps every event it was sent across its connections and resumes with its cursor. */
function client(chatId: string) {
  const events: ChatStreamEvent[] = [];
  const cursor: StreamCursor = createStreamCursor();
  let ws: WebSocket | undefined;
  const connect = () => {
    const socket = new WebSocket(`${replica.url.replace(/^http/, 'ws')}/api/experimental/chats/${chatId}/stream${cursor.query()}`, {
      headers: { 'coder-session-token': token },
      perMessageDeflate: false,
    });
    socket.on('message', (data) => {
      if (socket !== ws) return; // a closed connection's last frames are not this client's any more
      for (const e of JSON.parse(String(data)) as ChatStreamEvent[]) if (cursor.accept(e)) events.push(e);
    });
    socket.on('error', () => undefined);
    ws = socket;
    return new Promise<void>((resolve) => socket.once('open', () => resolve()));
  };
  return {
    events,
    connect,
    get connected() {
      return ws !== undefined;
    },
    disconnect() {
      ws?.close();
      ws = undefined;
    },
  };
}

async function visible(chatId: string): Promise<ChatMessage[]> {
  const r = await api('GET', `/${chatId}/messages?limit=200`);
  return (r.body.messages as ChatMessage[]).slice().reverse();
}

describe('edits, sends and reconnects: every client ends with the visible history', () => {
  for (const seed of SEEDS) {
    it(`seed ${seed}`, async () => {
      const rand = seededRandom(seed);
      const chatId = (await api('POST', '', { content: 'start' })).body.id as string;
      const clients = Array.from({ length: CLIENTS }, () => client(chatId));
      await Promise.all(clients.map((c) => c.connect()));
      const counts = { send: 0, edit: 0, reconnect: 0, disconnect: 0 };
      for (let step = 0; step < STEPS; step++) {
        const r = rand();
        if (r < 0.35) {
          counts.send++;
          const res = await api('POST', `/${chatId}/messages`, { content: `s${step}` });
          // A full queue (429) is a legal answer under this load; anything else is a failure.
          expect([200, 429]).toContain(res.status);
        } else if (r < 0.6) {
          const users = (await visible(chatId)).filter((m) => m.role === 'user');
          if (users.length === 0) continue;
          counts.edit++;
          const res = await api('PATCH', `/${chatId}/messages/${pick(rand, users).id}`, { content: `e${step}` });
          // The message may have been hidden by a racing edit in between: 404 is then the right answer.
          expect([200, 404]).toContain(res.status);
        } else if (r < 0.8) {
          const c = pick(rand, clients);
          if (c.connected) {
            counts.disconnect++;
            c.disconnect();
          } else {
            counts.reconnect++;
            await c.connect();
          }
        } else {
          const c = pick(rand, clients);
          counts.reconnect++;
          c.disconnect();
          await c.connect();
        }
      }
      expect(counts.edit).toBeGreaterThan(3);
      expect(counts.reconnect).toBeGreaterThan(3);
      for (const c of clients) if (!c.connected) await c.connect();
      await waitFor(
        async () => {
          const chat = (await api('GET', `/${chatId}`)).body;
          const page = (await api('GET', `/${chatId}/messages`)).body;
          return chat.status === 'waiting' && page.queued_messages.length === 0;
        },
        { what: 'the chat to rest', timeoutMs: 30_000 },
      );
      const expected = await visible(chatId);
      for (const [i, c] of clients.entries()) {
        await waitFor(() => heldHistory(c.events).messages.at(-1)?.id === expected.at(-1)!.id && heldHistory(c.events).partRuns.length === 0, {
          what: `client ${i} of seed ${seed} to catch up`,
          timeoutMs: 15_000,
        });
        expect(heldHistory(c.events), `client ${i} of seed ${seed}`).toEqual({ messages: expected, partRuns: [] });
        c.disconnect();
      }
    });
  }
});
