// Compatibility: a small client written only from the contract (docs/contract.md#wire), used the
// way the original's TypeScript client drives the API: the Coder-Session-Token header, create with
// organization_id, post with busy_behavior, stream frames read as bare JSON arrays until a terminal
// status, then the history paged newest first; and a client-executed tool (contract.md#client-tools): create with
// `unsafe_dynamic_tools`, stream to `requires_action` with `action_required`, submit the results, read the reply;
// files and edits (contract.md#files, contract.md#edit) as `uploadChatFile`/`getChatFile` use them: upload raw bytes
// with `?organization=`, send the file as a part, download it, then edit the message.
// It uses nothing of this package but the server.
import { useTestDatabase } from '@chatd/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import type { RunningChatd } from '../src/start-chatd-server.js';
import { startTestReplica, userToken } from './helpers/server-harness.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });
let replica: RunningChatd;
let token: string;
let organizationId: string;

beforeAll(async () => {
  replica = await startTestReplica(db.url);
  token = (await userToken(replica, 'compat')).token;
  organizationId = (await replica.chatd.identity.defaultOrganization()).id;
});
afterAll(async () => {
  await replica?.close();
});

/** What a contract-only client knows of the wire. */
type WireEvent = {
  type: string;
  chat_id: string;
  action_required?: { tool_calls: { tool_call_id: string; tool_name: string; args: string }[] };
  status?: { status: string }; message?: { id: number; role: string; content?: { type: string; text?: string }[] }; message_part?: { part: { type: string; text?: string } } };

/** The client, from contract.md#wire alone. */
function contractClient(baseUrl: string, sessionToken: string) {
  const headers = { 'Coder-Session-Token': sessionToken, 'Content-Type': 'application/json' };
  const api = `${baseUrl}/api/experimental/chats`;
  return {
    async createChat(text: string, dynamicTools?: { name: string; description?: string; input_schema: object }[]) {
      const body = { content: [{ type: 'text', text }], organization_id: organizationId, client_type: 'api', ...(dynamicTools ? { unsafe_dynamic_tools: dynamicTools } : {}) };
      const res = await fetch(api, { method: 'POST', headers, body: JSON.stringify(body) });
      if (res.status !== 201) throw new Error(`create: ${res.status} ${await res.text()}`);
      return (await res.json()) as { id: string; status: string; organization_id: string };
    },
    async sendMessage(chatId: string, text: string, busyBehavior: 'queue' | 'interrupt') {
      const res = await fetch(`${api}/${chatId}/messages`, { method: 'POST', headers, body: JSON.stringify({ content: [{ type: 'text', text }], busy_behavior: busyBehavior }) });
      if (res.status !== 200) throw new Error(`send: ${res.status} ${await res.text()}`);
      return (await res.json()) as { queued: boolean; message?: { id: number }; queued_message?: { id: number } };
    },
    async uploadFile(bytes: Uint8Array, contentType: string, name: string) {
      const res = await fetch(`${api}/files?organization=${organizationId}`, {
        method: 'POST',
        headers: { 'Coder-Session-Token': sessionToken, 'Content-Type': contentType, 'Content-Disposition': `attachment; filename="${name}"` },
        body: bytes,
      });
      if (res.status !== 201) throw new Error(`upload: ${res.status} ${await res.text()}`);
      return (await res.json()) as { id: string };
    },
    async getFile(id: string) {
      const res = await fetch(`${api}/files/${id}`, { headers: { 'Coder-Session-Token': sessionToken } });
      return { status: res.status, type: res.headers.get('content-type'), disposition: res.headers.get('content-disposition'), bytes: new Uint8Array(await res.arrayBuffer()) };
    },
    async sendParts(chatId: string, content: object[]) {
      const res = await fetch(`${api}/${chatId}/messages`, { method: 'POST', headers, body: JSON.stringify({ content }) });
      if (res.status !== 200) throw new Error(`send: ${res.status} ${await res.text()}`);
      return (await res.json()) as { queued: boolean; message?: { id: number; content: object[] }; queued_message?: { id: number } };
    },
    async editMessage(chatId: string, messageId: number, text: string) {
      const res = await fetch(`${api}/${chatId}/messages/${messageId}`, { method: 'PATCH', headers, body: JSON.stringify({ content: [{ type: 'text', text }] }) });
      if (res.status !== 200) throw new Error(`edit: ${res.status} ${await res.text()}`);
      return (await res.json()) as { message: { id: number; content: { type: string; text?: string }[] }; deleted_message_ids: number[] };
    },
    async submitToolResults(chatId: string, results: { tool_call_id: string; output: unknown; is_error?: boolean }[]) {
      const res = await fetch(`${api}/${chatId}/tool-results`, { method: 'POST', headers, body: JSON.stringify({ results }) });
      if (res.status !== 204) throw new Error(`tool-results: ${res.status} ${await res.text()}`);
    },
    /** Reads frames (bare arrays) until `done` says the turn is over. */
    streamUntil(chatId: string, done: (events: WireEvent[]) => boolean): Promise<WireEvent[]> {
      return new Promise((resolve, reject) => {
        const events: WireEvent[] = [];
        const ws = new WebSocket(`${api.replace(/^http/, 'ws')}/${chatId}/stream`, { headers: { 'Coder-Session-Token': sessionToken }, perMessageDeflate: false, maxPayload: 4 * 1024 * 1024 });
        ws.on('message', (data) => {
          const frame: unknown = JSON.parse(String(data));
          if (!Array.isArray(frame)) {
            reject(new Error('a frame that is not a bare JSON array'));
            ws.close();
            return;
          }
          events.push(...(frame as WireEvent[]));
          if (done(events)) {
            ws.close();
            resolve(events);
          }
        });
        ws.on('error', reject);
      });
    },
    async history(chatId: string) {
      const all: { id: number; role: string }[] = [];
      let before: number | undefined;
      for (;;) {
        const res = await fetch(`${api}/${chatId}/messages?limit=2${before ? `&before_id=${before}` : ''}`, { headers });
        const page = (await res.json()) as { messages: { id: number; role: string }[]; has_more: boolean };
        all.push(...page.messages);
        if (!page.has_more) return all;
        before = page.messages.at(-1)!.id;
      }
    },
  };
}

describe('a contract-only client (as the original TypeScript client uses the API)', () => {
  it('creates with organization_id, streams to a terminal status, queues and interrupts, then pages the history newest first', async () => {
    const client = contractClient(replica.url, token);
    const chat = await client.createChat('first question');
    expect(chat).toMatchObject({ status: 'pending', organization_id: organizationId });

    const assistantReplies = (events: WireEvent[]) => events.filter((e) => e.type === 'message' && e.message?.role === 'assistant').length;
    const terminal = (events: WireEvent[], replies: number) =>
      assistantReplies(events) >= replies && ['waiting', 'error'].includes(events.filter((e) => e.type === 'status').at(-1)?.status?.status ?? '');

    const first = await client.streamUntil(chat.id, (e) => terminal(e, 1));
    expect(first[0]?.type).toBe('status');
    expect(first.some((e) => e.type === 'message_part')).toBe(true);

    const queued = await client.sendMessage(chat.id, 'second question', 'queue');
    expect(queued.queued === true || queued.message !== undefined).toBe(true);
    const second = await client.streamUntil(chat.id, (e) => terminal(e, 2));
    expect(assistantReplies(second)).toBe(2);

    const cut = await client.sendMessage(chat.id, 'third, interrupting', 'interrupt');
    expect(typeof cut.queued).toBe('boolean');
    await client.streamUntil(chat.id, (e) => terminal(e, 3));

    const history = await client.history(chat.id);
    const ids = history.map((m) => m.id);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(history.filter((m) => m.role === 'user')).toHaveLength(3);
    expect(history.filter((m) => m.role === 'assistant')).toHaveLength(3);
  });

  it('runs a client-executed tool end to end: unsafe_dynamic_tools, requires_action with action_required, tool-results, the reply reads the result', async () => {
    const client = contractClient(replica.url, token);
    const tool = { name: 'read_local_file', description: 'Reads a file on the user machine.', input_schema: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] } };
    const chat = await client.createChat('call read_local_file {"path":"notes.txt"}', [tool]);
    const lastStatus = (events: WireEvent[]) => events.filter((e) => e.type === 'status').at(-1)?.status?.status;
    const waiting = await client.streamUntil(chat.id, (e) => lastStatus(e) === 'requires_action' && e.some((x) => x.type === 'action_required'));
    const calls = waiting.find((e) => e.type === 'action_required')!.action_required!.tool_calls;
    expect(calls).toHaveLength(1);
    expect(calls[0]!.tool_name).toBe('read_local_file');
    expect(JSON.parse(calls[0]!.args)).toEqual({ path: 'notes.txt' });

    await client.submitToolResults(chat.id, [{ tool_call_id: calls[0]!.tool_call_id, output: { text: 'buy milk' } }]);
    const replied = await client.streamUntil(
      chat.id,
      (e) => lastStatus(e) === 'waiting' && e.some((x) => x.type === 'message' && x.message?.role === 'assistant' && (x.message.content ?? []).some((p) => p.text?.includes('buy milk'))),
    );
    const reply = replied.filter((e) => e.type === 'message' && e.message?.role === 'assistant').at(-1)!;
    expect(reply.message!.content!.map((p) => p.text ?? '').join('')).toContain('read_local_file returned {"text":"buy milk"}');
  });

  it('uploads a file, sends it in a message, downloads it, and edits the message', async () => {
    const client = contractClient(replica.url, token);
    const chat = await client.createChat('a chat for a screenshot');
    const lastStatus = (events: WireEvent[]) => events.filter((e) => e.type === 'status').at(-1)?.status?.status;
    await client.streamUntil(chat.id, (e) => lastStatus(e) === 'waiting');

    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 7, 7, 7]);
    const { id } = await client.uploadFile(png, 'image/png', 'screen.png');
    const sent = await client.sendParts(chat.id, [{ type: 'text', text: 'what is on this screen?' }, { type: 'file', file_id: id }]);
    expect(sent.queued).toBe(false);
    expect(sent.message!.content).toEqual([{ type: 'text', text: 'what is on this screen?' }, { type: 'file', file_id: id, media_type: 'image/png', name: 'screen.png' }]);
    await client.streamUntil(chat.id, (e) => lastStatus(e) === 'waiting' && e.some((x) => x.type === 'message' && x.message?.id === sent.message!.id));

    const file = await client.getFile(id);
    expect(file).toMatchObject({ status: 200, type: 'image/png' });
    expect(file.disposition).toMatch(/^attachment; filename="screen.png"/);
    expect(file.bytes).toEqual(png);

    const edited = await client.editMessage(chat.id, sent.message!.id, 'describe the screen instead');
    expect(edited.message.content).toEqual([{ type: 'text', text: 'describe the screen instead' }]);
    expect(edited.deleted_message_ids[0]).toBe(sent.message!.id);
  });
});
