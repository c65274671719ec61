// The sync safety net (contract.md#sync-safety-net) on real PostgreSQL and the real PostgreSQL pubsub, with the
// mock clock driving its ticks: a stream NOTIFY that is lost on purpose (dropped between the LISTEN connection and
// the subscribers, so nothing signals a gap) is caught up at the first tick after the loss and not before, exactly
// once, with one query per tick over every followed chat; subscribers that got their NOTIFY are left alone.
import { createMockClock } from '@chatd/clock';
import type { ChatStreamEvent } from '@chatd/protocol';
import { chatStreamNotifyChannel, createPgPubSub, encodeChatStreamNotify, type PgPubSub, type PubSub } from '@chatd/pubsub';
import { useTestDatabase, waitFor } from '@chatd/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentityStore } from '../src/identity/identity-store.js';
import { createLiveStreams } from '../src/live/live-buffer.js';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import { createChatStore, type ChatStore } from '../src/store/chat-store.js';
import { readChatsBehind, type FollowedChat } from '../src/store/chats-behind.js';
import { createPool } from '../src/store/db.js';
import { createModelConfigStore } from '../src/store/model-config-store.js';
import { createChatSubscriber, type StreamSink } from '../src/subscribe/chat-subscriber.js';
import { DEFAULT_SYNC_INTERVAL_MS, createSyncSafetyNet } from '../src/subscribe/sync-safety-net.js';
import { loadConfig } from '../src/config.js';
import { openStream, startTestReplica, userToken } from './helpers/server-harness.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });
const logger = { debug() {}, info() {}, warn() {}, error() {} };
const INTERVAL_MS = DEFAULT_SYNC_INTERVAL_MS;
let pool: pg.Pool;
let store: ChatStore;
let ownerId: string;
let pgPubSub: PgPubSub;

beforeAll(async () => {
  pool = createPool(db.url, 8);
  const clock = createMockClock({ now: new Date('2026-05-01T00:00:00Z') });
  // One owner runs many chats across these tests (none finishes): the running cap is lifted explicitly (issue 33).
  store = createChatStore({ pool, clock, maxRunningPerUser: 1_000 });
  ownerId = (await createIdentityStore({ pool, clock }).createUser({ username: 'alice' })).id;
  const models = createModelConfigStore({ pool, clock });
  if (!(await models.getDefaultModelConfig())) {
    if (!(await models.getProviderSettings('demo'))) await models.createProvider({ provider: 'demo' });
    await models.createModelConfig({ provider: 'demo', model: 'demo', isDefault: true, contextLimit: 100_000 });
  }
  pgPubSub = await createPgPubSub({ connectionString: db.url, healthCheckIntervalMs: 0 });
});
afterAll(async () => {
  await pgPubSub?.close();
  await pool?.end();
});

const text = (t: string) => [{ type: 'text' as const, text: t }];

/**
 * The real pubsub with a fault: notifications on the channels in `dropping` never reach their listeners, and
 * nothing tells them (no MESSAGES_DROPPED, no reconnect), as when a NOTIFY is lost on its way.
 */
function lossy(inner: PubSub) {
  const dropping = new Set<string>();
  let dropped = 0;
  const pubsub: PubSub = {
    publish: (channel, payload) => inner.publish(channel, payload),
    subscribe: (channel, listener, options) =>
      inner.subscribe(
        channel,
        (message, error) => {
          if (message && dropping.has(channel)) {
            dropped++;
            return;
          }
          return listener(message, error);
        },
        options,
      ),
    close: async () => {},
  };
  return {
    pubsub,
    dropping,
    get dropped() {
      return dropped;
    },
  };
}

function collector() {
  const events: ChatStreamEvent[] = [];
  const sink: StreamSink = { push: (o) => events.push(o.event), end: () => {} };
  return { sink, events, messageIds: () => events.flatMap((e) => (e.type === 'message' ? [e.message.id] : [])) };
}

/** A chat running on this replica, with its first (user) message id and run id. */
async function runningChat(prompt: string) {
  const { chat, message } = await store.createChat({ ownerId, content: text(prompt) });
  const acquired = await store.acquireChats('replica-local', 50);
  const runId = acquired.find((a) => a.chat.id === chat.id)?.runId;
  if (!runId) throw new Error('chat was not acquired');
  return { chatId: chat.id, firstId: message.id, runId };
}

/** Commits an assistant message and publishes its stream notification, as the worker does. */
async function commitReply(chatId: string, runId: string, reply: string): Promise<number> {
  const { message } = await store.persistMessage({ chatId, runId, role: 'assistant', content: text(reply) });
  await pgPubSub.publish(chatStreamNotifyChannel(chatId), encodeChatStreamNotify({ after_message_id: message.id - 1 }));
  return message.id;
}

describe('sync safety net', () => {
  it('CHATD_SYNC_INTERVAL_MS sets the interval; 10 s by default', () => {
    expect(DEFAULT_SYNC_INTERVAL_MS).toBe(10_000);
    expect(loadConfig({ DATABASE_URL: 'postgres://x/y' }).syncIntervalMs).toBe(10_000);
    expect(loadConfig({ DATABASE_URL: 'postgres://x/y', CHATD_SYNC_INTERVAL_MS: '2500' }).syncIntervalMs).toBe(2500);
    expect(() => loadConfig({ DATABASE_URL: 'postgres://x/y', CHATD_SYNC_INTERVAL_MS: '0' })).toThrow(expect.objectContaining({ code: 'CONFIG' }));
  });

  it('a lost NOTIFY is caught up at the first tick after the loss, and not before; exactly once; one query per tick', async () => {
    const clock = createMockClock({ now: new Date('2026-05-01T00:00:00Z') });
    const fault = lossy(pgPubSub);
    const queries: FollowedChat[][] = [];
    const net = createSyncSafetyNet({
      readChatsBehind: (followed) => {
        queries.push([...followed]);
        return readChatsBehind(pool, followed);
      },
      clock,
      logger,
      intervalMs: INTERVAL_MS,
    });
    const subscriber = createChatSubscriber({ store, pubsub: fault.pubsub, live: createLiveStreams(), clock, logger, replicaId: () => 'replica-local', syncNet: net });

    const lost = await runningChat('the notification of my reply is lost');
    const healthy = await runningChat('mine arrives');
    const a1 = collector();
    const a2 = collector();
    const b = collector();
    const subs = [
      await subscriber.subscribe(lost.chatId, { afterId: BigInt(lost.firstId) }, a1.sink),
      await subscriber.subscribe(lost.chatId, {}, a2.sink),
      await subscriber.subscribe(healthy.chatId, { afterId: BigInt(healthy.firstId) }, b.sink),
    ];
    expect(net.metrics()).toMatchObject({ followedChats: 2, ticks: 0, catchUps: 0 });
    net.start();

    // The loss: the reply commits, its NOTIFY reaches the LISTEN connection and goes no further.
    fault.dropping.add(chatStreamNotifyChannel(lost.chatId));
    const lostId = await commitReply(lost.chatId, lost.runId, 'lost reply');
    await waitFor(() => fault.dropped === 2, { what: 'the NOTIFY dropped for both subscribers of the chat' });
    // The other chat's NOTIFY arrives as usual.
    const healthyId = await commitReply(healthy.chatId, healthy.runId, 'delivered reply');
    await waitFor(() => b.messageIds().includes(healthyId), { what: 'the healthy notification' });

    // Not before the tick.
    await clock.advance(INTERVAL_MS - 1);
    expect(queries).toHaveLength(0);
    expect(a1.messageIds()).not.toContain(lostId);
    expect(a2.messageIds()).not.toContain(lostId);

    // The first tick after the loss: one query over both chats, the lost chat's subscribers catch up.
    await clock.advance(1);
    await waitFor(() => a1.messageIds().includes(lostId) && a2.messageIds().includes(lostId), { what: 'the safety net catch-up' });
    expect(queries).toHaveLength(1);
    expect([...queries[0]!].sort((x, y) => x.chatId.localeCompare(y.chatId))).toEqual(
      [
        // The lowest cursor of the chat's subscribers.
        { chatId: lost.chatId, deliveredId: BigInt(lost.firstId) },
        { chatId: healthy.chatId, deliveredId: BigInt(healthyId) },
      ].sort((x, y) => x.chatId.localeCompare(y.chatId)),
    );
    expect(net.metrics()).toMatchObject({ ticks: 1, catchUps: 2, failures: 0 });
    expect(a1.messageIds()).toEqual([lostId]);
    expect(a2.messageIds()).toEqual([lost.firstId, lostId]);
    expect(b.messageIds()).toEqual([healthyId]);

    // The next tick finds nobody behind; a late duplicate NOTIFY changes nothing (exactly once).
    fault.dropping.clear();
    await pgPubSub.publish(chatStreamNotifyChannel(lost.chatId), encodeChatStreamNotify({ after_message_id: lostId - 1 }));
    await clock.advance(INTERVAL_MS);
    await waitFor(() => net.metrics().ticks === 2, { what: 'the second tick' });
    expect(net.metrics().catchUps).toBe(2);
    expect(a1.messageIds()).toEqual([lostId]);
    expect(a2.messageIds()).toEqual([lost.firstId, lostId]);

    // Closed subscriptions leave the net; with nothing followed a tick asks nothing.
    for (const s of subs) s.close();
    expect(net.metrics().followedChats).toBe(0);
    await clock.advance(INTERVAL_MS);
    expect(queries).toHaveLength(2);
    net.stop();
  });

  it('a subscription that takes no messages (after_id at the int64 maximum) is not asked about', async () => {
    const clock = createMockClock({ now: new Date('2026-05-01T00:00:00Z') });
    const queries: FollowedChat[][] = [];
    const net = createSyncSafetyNet({ readChatsBehind: async (f) => (queries.push([...f]), []), clock, logger });
    const subscriber = createChatSubscriber({ store, pubsub: pgPubSub, live: createLiveStreams(), clock, logger, replicaId: () => 'replica-local', syncNet: net });
    const { chatId } = await runningChat('max cursor');
    const sub = await subscriber.subscribe(chatId, { afterId: 9223372036854775807n }, collector().sink);
    expect(net.metrics().followedChats).toBe(1);
    await net.tick();
    expect(queries).toEqual([]);
    expect(net.metrics().ticks).toBe(0);
    sub.close();
  });

  it('a replica runs the net on its clock for its stream subscribers and reports it on /metrics', async () => {
    const replica = await startTestReplica(db.url, { config: { databaseUrl: db.url, worker: false, syncIntervalMs: 50 } });
    try {
      const { token, userId } = await userToken(replica, 'metrics-reader');
      const { chat } = await replica.chatd.chats.createChat({ ownerId: userId, content: text('followed') });
      const metric = async (name: string) => {
        const body = await (await fetch(`${replica.url}/metrics`)).text();
        return Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(body)?.[1] ?? NaN);
      };
      expect(await metric('chatd_sync_followed_chats')).toBe(0);
      const s = openStream(replica.url, chat.id, token);
      await s.until((e) => e.some((x) => x.type === 'message'), 'the snapshot');
      await waitFor(async () => (await metric('chatd_sync_ticks_total')) >= 2, { what: 'two ticks', timeoutMs: 10_000 });
      expect(await metric('chatd_sync_followed_chats')).toBe(1);
      // Nothing was lost: no subscriber was made to catch up.
      expect(await metric('chatd_sync_catch_ups_total')).toBe(0);
      s.close();
    } finally {
      await replica.close();
    }
  });
});
