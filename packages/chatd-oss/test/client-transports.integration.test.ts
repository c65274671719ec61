// @chatd/client's browser transports against a real replica (contract.md#sse, contract.md#tickets): the SSE
// transport over fetch (token header, Last-Event-ID) streams a reply, and the browser entry with a token opens its
// WebSocket with a ticket it mints per attempt (the socket carries no header at all).
import { useTestDatabase } from '@chatd/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createChatClient } from '@chatd/client';
import { createChatClient as createBrowserChatClient, type StandardWebSocketClass } from '@chatd/client/browser';
import type { ChatStreamEvent } from '@chatd/protocol';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import type { RunningChatd } from '../src/start-chatd-server.js';
import { startTestReplica, userToken } from './helpers/server-harness.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });

async function untilReply(stream: AsyncGenerator<ChatStreamEvent>, stop: AbortController): Promise<ChatStreamEvent[]> {
  const seen: ChatStreamEvent[] = [];
  for await (const e of stream) {
    seen.push(e);
    if (e.type === 'message' && e.message.role === 'assistant') stop.abort();
  }
  return seen;
}

describe('client transports', () => {
  let replica: RunningChatd;
  let token: string;
  beforeAll(async () => {
    replica = await startTestReplica(db.url);
    ({ token } = await userToken(replica, 'transport-user'));
  });
  afterAll(async () => {
    await replica?.close();
  });

  it('streams a reply over SSE with fetch', async () => {
    const client = createChatClient({ baseUrl: replica.url, token, transport: 'sse' });
    const chat = await client.create('over sse');
    const stop = new AbortController();
    const seen = await untilReply(client.stream(chat.id, { signal: stop.signal }), stop);
    expect(seen.some((e) => e.type === 'message_part')).toBe(true);
    expect(replica.server.metrics.get('chatd_ws_connections', { kind: 'stream' })).toBe(0);
  });

  it('the browser entry with a token opens its WebSocket with a minted ticket', async () => {
    const client = createBrowserChatClient({ baseUrl: replica.url, token, WebSocket: WebSocket as unknown as StandardWebSocketClass });
    const chat = await client.create('over a ticketed socket');
    const stop = new AbortController();
    const seen = await untilReply(client.stream(chat.id, { signal: stop.signal }), stop);
    expect(seen.some((e) => e.type === 'message')).toBe(true);
    expect(replica.server.metrics.get('chatd_tickets_refused_total')).toBe(0);
  });

  it('the browser entry streams over SSE when asked', async () => {
    const client = createBrowserChatClient({ baseUrl: replica.url, token, transport: 'sse' });
    const chat = await client.create('browser over sse');
    const stop = new AbortController();
    const seen = await untilReply(client.stream(chat.id, { signal: stop.signal }), stop);
    expect(seen.some((e) => e.type === 'message' && e.message.role === 'assistant')).toBe(true);
  });
});
