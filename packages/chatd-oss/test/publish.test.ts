import { createMockClock } from '@chatd/clock';
import type { Chat } from '@chatd/protocol';
import {
  chatEventChannel,
  chatStreamNotifyChannel,
  createMemoryPubSub,
  decodeChatEvent,
  decodeChatStreamNotify,
  decodeInboxNotificationEvent,
  inboxNotificationForOwnerEventChannel,
} from '@chatd/pubsub';
import { waitFor } from '@chatd/testkit';
import { describe, expect, it } from 'vitest';
import { createChatPublisher, isHandOverToQueue } from '../src/publish/chat-publisher.js';
import { CHAT_RUN_FAILED_TEMPLATE_ID, CHAT_RUN_FINISHED_TEMPLATE_ID } from '../src/publish/inbox-notification.js';
import type { ChatChange } from '../src/store/chat-store.js';
import { recordingPubSub } from './helpers/worker-harness.js';

const CHAT_ID = '11111111-1111-4111-8111-111111111111';
const OWNER_ID = '22222222-2222-4222-8222-222222222222';
const ORG_ID = '33333333-3333-4333-8333-333333333333';

function chat(extra: Partial<Chat> = {}): Chat {
  return {
    id: CHAT_ID,
    organization_id: ORG_ID,
    owner_id: OWNER_ID,
    workspace_id: null,
    parent_chat_id: null,
    root_chat_id: CHAT_ID,
    last_model_config_id: null,
    title: 'Hello there',
    status: 'waiting',
    last_error: null,
    created_at: '2026-01-01T00:00:00.000Z',
    updated_at: '2026-01-01T00:00:01.000Z',
    archived: false,
    worker_id: null,
    labels: {},
    ...extra,
  };
}

function change(extra: Partial<ChatChange> = {}): ChatChange {
  return { chat: chat(), statusChanged: false, statusNotified: false, messages: [], fullRefresh: false, ...extra };
}

const message = (id: number) => ({ id, chat_id: CHAT_ID, created_at: '2026-01-01T00:00:00.000Z', role: 'user' as const, content: [{ type: 'text' as const, text: 'hi' }] });

function setup() {
  const clock = createMockClock({ now: new Date('2026-03-01T12:00:00Z') });
  const pubsub = recordingPubSub(createMemoryPubSub());
  const warnings: string[] = [];
  const logger = { debug() {}, info() {}, warn: (_o: object, msg?: string) => warnings.push(msg ?? ''), error() {} };
  const publisher = createChatPublisher({ pubsub, clock, logger });
  const stream = () => pubsub.published.filter((p) => p.channel === chatStreamNotifyChannel(CHAT_ID)).map((p) => decodeChatStreamNotify(p.payload));
  const events = () => pubsub.published.filter((p) => p.channel === chatEventChannel(OWNER_ID)).map((p) => decodeChatEvent(p.payload));
  return { clock, pubsub, publisher, warnings, stream, events };
}

describe('createChatPublisher', () => {
  it('publishes a change in order: error, messages (smallest id - 1), queue, full refresh, status, then chat events', async () => {
    const { publisher, pubsub, stream, events } = setup();
    const error = { message: 'boom', kind: 'server_error' };
    await publisher.publishChange(
      change({
        chat: chat({ status: 'error', last_error: error }),
        statusChanged: true,
        error,
        messages: [message(42), message(41)],
        queue: [],
        fullRefresh: true,
      }),
      { chatEvents: ['title_change'] },
    );
    expect(stream()).toEqual([
      { error_payload: error, error: 'boom' },
      { after_message_id: 40 },
      { queue_update: true },
      { full_refresh: true },
      { status: 'error' },
    ]);
    expect(events().map((e) => [e.kind, e.chat.status])).toEqual([
      ['status_change', 'error'],
      ['title_change', 'error'],
    ]);
    // Stream hints first, then the owner's events.
    expect(pubsub.published.map((p) => p.channel.split(':')[1])).toEqual(['stream', 'stream', 'stream', 'stream', 'stream', 'owner', 'owner']);
  });

  it('sends the worker id with a running status and nothing for an unchanged chat', async () => {
    const { publisher, stream, events } = setup();
    await publisher.publishChange(change());
    expect(stream()).toEqual([]);
    await publisher.publishChange(change({ chat: chat({ status: 'running', worker_id: 'replica-1' }), statusChanged: true }));
    expect(stream()).toEqual([{ status: 'running', worker_id: 'replica-1' }]);
    expect(events()).toHaveLength(1);
  });

  it('names the run a running status started (issue 36), and no run with another status', async () => {
    const { publisher, stream } = setup();
    const runId = '44444444-4444-4444-8444-444444444444';
    await publisher.publishChange(change({ chat: chat({ status: 'running', worker_id: 'replica-1' }), statusChanged: true, runId }));
    await publisher.publishChange(change({ chat: chat({ status: 'waiting' }), statusChanged: true, runId }));
    expect(stream()).toEqual([{ status: 'running', worker_id: 'replica-1', run_id: runId }, { status: 'waiting' }]);
  });

  it('skips the status and status_change when the store already notified them in its transaction', async () => {
    const { publisher, stream, events } = setup();
    await publisher.publishChange(change({ chat: chat({ status: 'pending' }), statusChanged: true, statusNotified: true, messages: [message(7)] }));
    expect(stream()).toEqual([{ after_message_id: 6 }]);
    expect(events()).toEqual([]);
  });

  it('does not show the waiting of an interrupt that hands over to a queued message', async () => {
    const { publisher, stream, events } = setup();
    const queued = { id: 5, chat_id: CHAT_ID, content: [{ type: 'text' as const, text: 'next' }], created_at: '2026-01-01T00:00:00.000Z' };
    const handOver = change({ chat: chat({ status: 'waiting' }), statusChanged: true, queue: [queued] });
    expect(isHandOverToQueue(handOver)).toBe(true);
    await publisher.publishChange(handOver);
    expect(stream()).toEqual([{ queue_update: true }]);
    expect(events()).toEqual([]);
    // A plain interrupt (no queue) is shown.
    await publisher.publishChange(change({ chat: chat({ status: 'waiting' }), statusChanged: true }));
    expect(stream().at(-1)).toEqual({ status: 'waiting' });
  });

  it('publishes a ChatEvent over the NOTIFY limit truncated, never drops it (contract.md#oversized-events)', async () => {
    const { publisher, events, warnings } = setup();
    const big = chat({ status: 'error', last_error: { message: 'boom', detail: 'x'.repeat(9000) } });
    await publisher.publishChatEvent('status_change', big);
    await publisher.publishChange(change({ chat: big, statusChanged: true }), { chatEvents: ['title_change', 'deleted'] });
    const reduced = { id: CHAT_ID, owner_id: OWNER_ID, status: 'error', title: 'Hello there', updated_at: '2026-01-01T00:00:01.000Z' };
    expect(events()).toEqual(['status_change', 'status_change', 'title_change', 'deleted'].map((kind) => ({ kind, chat: reduced, truncated: true })));
    expect(warnings).toEqual([]);
    // One that fits goes whole.
    await publisher.publishChatEvent('title_change', chat());
    expect(events().at(-1)).toMatchObject({ kind: 'title_change', chat: { labels: {}, archived: false, status: 'waiting' } });
    expect(events().at(-1)?.truncated).toBeUndefined();
  });

  it('publishes retry and error payloads and ignores an empty error', async () => {
    const { publisher, stream } = setup();
    const retry = { attempt: 1, delay_ms: 1000, error: 'overloaded', retrying_at: '2026-03-01T12:00:01.000Z', kind: 'overloaded' };
    await publisher.publishRetry(CHAT_ID, retry);
    await publisher.publishError(CHAT_ID, { message: '  ' });
    await publisher.publishError(CHAT_ID, { message: 'bad', detail: 'worse' });
    expect(stream()).toEqual([{ retry }, { error_payload: { message: 'bad', detail: 'worse' }, error: 'bad' }]);
  });

  it('sends the owner an inbox notification for a finished or failed run', async () => {
    const { publisher, pubsub } = setup();
    const received: unknown[] = [];
    await pubsub.subscribe(inboxNotificationForOwnerEventChannel(OWNER_ID), (m) => {
      if (m) received.push(decodeInboxNotificationEvent(m));
    });
    await publisher.publishRunNotification(chat(), 'finished');
    await publisher.publishRunNotification(chat({ status: 'error', last_error: { message: 'quota exceeded' } }), 'failed');
    await waitFor(() => received.length === 2, { what: 'two notifications' });
    expect(received[0]).toMatchObject({
      kind: 'new',
      inbox_notification: { user_id: OWNER_ID, template_id: CHAT_RUN_FINISHED_TEMPLATE_ID, targets: [CHAT_ID], read_at: null, created_at: '2026-03-01T12:00:00.000Z' },
    });
    expect(received[1]).toMatchObject({ inbox_notification: { template_id: CHAT_RUN_FAILED_TEMPLATE_ID, content: expect.stringContaining('quota exceeded') } });
  });

  it('logs a failed publish and resolves', async () => {
    const { publisher, pubsub, warnings } = setup();
    const inner = createMemoryPubSub();
    await inner.close();
    const closed = createChatPublisher({ pubsub: inner, clock: createMockClock(), logger: { debug() {}, info() {}, warn: (_o, m) => warnings.push(m ?? ''), error() {} } });
    await expect(closed.publishChange(change({ statusChanged: true }))).resolves.toBeUndefined();
    expect(warnings.length).toBeGreaterThan(0);
    expect(pubsub.published).toEqual([]);
  });
});
