// The subscriber around an edit (contract.md#history-reset) against real PostgreSQL, with the memory pubsub, a real
// live buffer and a scripted relay: a run the edit fenced never reaches a client after `history_reset`, also when
// the subscriber had not seen any of its parts before (its first part arrives late, locally or through a relay),
// nor a subscriber that connects after the edit while the fenced run's worker still buffers parts, nor through a
// relay (a shared relay's window) to a subscriber that never saw a reset. Parts of the run after the edit flow.
import { createMockClock } from '@chatd/clock';
import type { ChatStreamEvent } from '@chatd/protocol';
import { chatStreamNotifyChannel, createMemoryPubSub, encodeChatStreamNotify, type PubSub } from '@chatd/pubsub';
import { useTestDatabase, waitFor } from '@chatd/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentityStore } from '../src/identity/identity-store.js';
import { createLiveStreams } from '../src/live/live-buffer.js';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import { createChatStore, type ChatStore } from '../src/store/chat-store.js';
import { createPool } from '../src/store/db.js';
import { createModelConfigStore } from '../src/store/model-config-store.js';
import { createChatSubscriber, type StreamSink } from '../src/subscribe/chat-subscriber.js';
import { createPushIterable } from '../src/subscribe/push-iterable.js';
import type { StatusNotification } from '../src/subscribe-fn.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });
const clock = createMockClock({ now: new Date('2026-05-01T00:00:00Z') });
const logger = { debug() {}, info() {}, warn() {}, error() {} };
let pool: pg.Pool;
let store: ChatStore;
let ownerId: string;

beforeAll(async () => {
  pool = createPool(db.url, 8);
  // One owner runs many chats across these tests (none finishes): the running cap is lifted explicitly (issue 33).
  store = createChatStore({ pool, clock, maxRunningPerUser: 1_000 });
  ownerId = (await createIdentityStore({ pool, clock }).createUser({ username: 'editor' })).id;
  const models = createModelConfigStore({ pool, clock });
  if (!(await models.getDefaultModelConfig())) {
    if (!(await models.getProviderSettings('demo'))) await models.createProvider({ provider: 'demo' });
    await models.createModelConfig({ provider: 'demo', model: 'demo', isDefault: true, contextLimit: 100_000 });
  }
});
afterAll(async () => {
  await pool.end();
});

const text = (t: string) => ({ type: 'text' as const, text: t });

function collector() {
  const events: ChatStreamEvent[] = [];
  const sink: StreamSink = { push: (o) => events.push(o.event), end: () => undefined };
  return { sink, events, until: (pred: (e: ChatStreamEvent[]) => boolean, what: string) => waitFor(() => pred(events), { what, timeoutMs: 10_000 }) };
}

const partLabels = (events: readonly ChatStreamEvent[]) => events.flatMap((e) => (e.type === 'message_part' ? [`${e.message_part.run_id.slice(0, 4)}:${e.message_part.seq}`] : []));
const label = (runId: string, seq: number) => `${runId.slice(0, 4)}:${seq}`;
const relayPart = (chatId: string, runId: string, seq: number): ChatStreamEvent => ({ type: 'message_part', chat_id: chatId, message_part: { part: text(`r${seq}`), seq, run_id: runId } });

async function runningChat(workerId: string) {
  const { chat, message } = await store.createChat({ ownerId, content: [text('tell me')] });
  const acquired = await store.acquireChats(workerId, 50);
  const runId = acquired.find((a) => a.chat.id === chat.id)!.runId;
  return { chatId: chat.id, messageId: message.id, runId };
}

/** The edit as the route does it: the store call, then the hints the publisher sends. */
async function edit(pubsub: PubSub, chatId: string, messageId: number, content: string) {
  const r = await store.editMessage({ chatId, messageId, content: [text(content)] });
  await pubsub.publish(chatStreamNotifyChannel(chatId), encodeChatStreamNotify({ queue_update: true }));
  await pubsub.publish(chatStreamNotifyChannel(chatId), encodeChatStreamNotify({ full_refresh: true }));
  await pubsub.publish(chatStreamNotifyChannel(chatId), encodeChatStreamNotify({ status: 'pending' }));
  return r;
}

const afterReset = (events: ChatStreamEvent[]) => events.slice(events.findIndex((e) => e.type === 'history_reset') + 1);

describe('subscribe around an edit', () => {
  it('a fenced run whose parts the subscriber had not seen before the reset sends none after it, locally or through the relay; the next run flows', async () => {
    const pubsub = createMemoryPubSub();
    const live = createLiveStreams();
    const { chatId, messageId, runId: oldRun } = await runningChat('replica-local');
    const oldWriter = live.begin(chatId, oldRun);
    const relay = createPushIterable<ChatStreamEvent>();
    const notifications: StatusNotification[] = [];
    const c = collector();
    const sub = await createChatSubscriber({
      store,
      pubsub,
      live,
      clock,
      logger,
      replicaId: () => 'replica-local',
      subscribeFn: async (p) => {
        void (async () => {
          for await (const n of p.statusNotifications) notifications.push(n);
        })();
        return relay;
      },
    }).subscribe(chatId, {}, c.sink);

    await edit(pubsub, chatId, messageId, 'changed');
    await c.until((e) => e.some((x) => x.type === 'history_reset') && afterReset(e).some((x) => x.type === 'queue_update'), 'the reset');
    expect(afterReset(c.events).map((e) => e.type).slice(0, 3)).toEqual(['message', 'status', 'queue_update']);
    await waitFor(() => notifications.some((n) => n.historyReset === true), { what: 'the relay told of the reset' });

    // The fenced run's worker has not noticed yet: its parts keep coming, here and through a relay.
    oldWriter.append(text('late local'));
    relay.push(relayPart(chatId, oldRun, 7));
    const newRun = (await store.acquireChats('replica-local', 50)).find((a) => a.chat.id === chatId)!.runId;
    const newWriter = live.begin(chatId, newRun);
    newWriter.append(text('fresh'));
    relay.push(relayPart(chatId, newRun, 2));
    await c.until((e) => partLabels(e).includes(label(newRun, 2)), 'the new run through the relay');
    expect(partLabels(afterReset(c.events))).toEqual([label(newRun, 1), label(newRun, 2)]);
    sub.close();
    await pubsub.close();
  });

  it('a subscriber that connects after the edit, while the fenced run still buffers parts, gets none of them, before or after its snapshot', async () => {
    const pubsub = createMemoryPubSub();
    const live = createLiveStreams();
    const { chatId, messageId, runId: oldRun } = await runningChat('replica-local');
    const oldWriter = live.begin(chatId, oldRun);
    oldWriter.append(text('a'));
    oldWriter.append(text('b'));
    await edit(pubsub, chatId, messageId, 'changed');
    const c = collector();
    const sub = await createChatSubscriber({ store, pubsub, live, clock, logger, replicaId: () => 'replica-local' }).subscribe(chatId, {}, c.sink);
    oldWriter.append(text('c'));
    const newRun = (await store.acquireChats('replica-local', 50)).find((a) => a.chat.id === chatId)!.runId;
    live.begin(chatId, newRun).append(text('fresh'));
    await c.until((e) => partLabels(e).includes(label(newRun, 1)), 'the new run');
    expect(partLabels(c.events)).toEqual([label(newRun, 1)]);
    sub.close();
    await pubsub.close();
  });

  it('a relay part of a fenced run is dropped for a subscriber that never saw a reset (a shared relay\'s window), a running run\'s parts flow', async () => {
    const pubsub = createMemoryPubSub();
    const live = createLiveStreams();
    const { chatId, messageId, runId: oldRun } = await runningChat('replica-far');
    await edit(pubsub, chatId, messageId, 'changed');
    const newRun = (await store.acquireChats('replica-far', 50)).find((a) => a.chat.id === chatId)!.runId;
    const relay = createPushIterable<ChatStreamEvent>();
    const c = collector();
    const sub = await createChatSubscriber({ store, pubsub, live, clock, logger, replicaId: () => 'replica-local', subscribeFn: async () => relay }).subscribe(chatId, {}, c.sink);
    relay.push(relayPart(chatId, oldRun, 1));
    relay.push(relayPart(chatId, oldRun, 2));
    relay.push(relayPart(chatId, newRun, 1));
    await c.until((e) => partLabels(e).includes(label(newRun, 1)), 'the running run');
    expect(partLabels(c.events)).toEqual([label(newRun, 1)]);
    sub.close();
    await pubsub.close();
  });
});
