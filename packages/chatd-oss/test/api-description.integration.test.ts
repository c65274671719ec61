// The API description against a real replica (contract.md#api-description): the server serves the document its
// builder makes, unauthenticated, under both bases; a client generated from docs/openapi.json (openapi-typescript
// types + openapi-fetch) creates a chat, sends a message and reads the history. Every response and frame here is
// also checked against the documents by the conformance hook (test/helpers/api-conformance-setup.ts).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import createClient from 'openapi-fetch';
import { buildOpenApiDocument } from '@chatd/protocol';
import { useTestDatabase, waitFor } from '@chatd/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import type { RunningChatd } from '../src/start-chatd-server.js';
import type { paths } from './generated/chatd-api.js';
import { startTestReplica, userToken } from './helpers/server-harness.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });
let replica: RunningChatd;
let alice: { token: string; userId: string };

beforeAll(async () => {
  replica = await startTestReplica(db.url);
  alice = await userToken(replica, 'alice');
});
afterAll(async () => {
  await replica?.close();
});

const committed = () => JSON.parse(fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'docs', 'openapi.json'), 'utf8')) as unknown;

describe('GET /openapi.json (contract.md#api-description)', () => {
  it('answers the builder\'s document without a token, under both bases, and it is the committed one', async () => {
    for (const base of ['/api/experimental/chats', '/api/v2/chats']) {
      const res = await fetch(`${replica.url}${base}/openapi.json`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      const doc = (await res.json()) as unknown;
      expect(doc).toEqual(buildOpenApiDocument());
      expect(doc).toEqual(committed());
    }
  });
});

describe('a client generated from docs/openapi.json', () => {
  it('creates a chat, sends a message and reads the history', async () => {
    const client = createClient<paths>({ baseUrl: replica.url, headers: { 'Coder-Session-Token': alice.token } });
    const created = await client.POST('/api/v2/chats', { body: { content: [{ type: 'text', text: 'hello generated client' }] } });
    expect(created.response.status).toBe(201);
    const chat = created.data!;
    expect(chat.title).toBe('hello generated client');
    expect(chat.owner_id).toBe(alice.userId);
    const params = { path: { chat: chat.id } };
    // The first turn runs; the next message is queued or stored, whichever the chat's state allows.
    await waitFor(async () => (await client.GET('/api/v2/chats/{chat}', { params })).data?.status === 'waiting', { what: 'the first reply', timeoutMs: 20_000 });
    const sent = await client.POST('/api/v2/chats/{chat}/messages', { params, body: { content: 'and a second message' } });
    expect(sent.response.status).toBe(200);
    expect(sent.data!.queued).toBe(false);
    expect(sent.data!.message?.role).toBe('user');
    await waitFor(async () => (await client.GET('/api/v2/chats/{chat}', { params })).data?.status === 'waiting', { what: 'the second reply', timeoutMs: 20_000 });
    const history = await client.GET('/api/experimental/chats/{chat}/messages', { params: { path: { chat: chat.id }, query: { limit: '10' } } });
    expect(history.response.status).toBe(200);
    // Newest first (contract.md#list-messages).
    expect(history.data!.messages.map((m) => m.role)).toEqual(['assistant', 'user', 'assistant', 'user']);
    expect(history.data!.messages[1]!.content).toEqual([{ type: 'text', text: 'and a second message' }]);
    expect(history.data!.has_more).toBe(false);
    const missing = await client.GET('/api/v2/chats/{chat}', { params: { path: { chat: '00000000-0000-4000-8000-000000000000' } } });
    expect(missing.response.status).toBe(404);
    expect(missing.error?.message).toBe('Resource not found or you do not have access to this resource.');
  });
});
