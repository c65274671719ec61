// Files on a real replica (contract.md#files): upload and download through the public API under both base paths,
// the 10 MiB boundary (exactly 10 MiB stored, one byte more a 413 and nothing stored), 415, the per-user upload limit
// (429 with Retry-After, back after the clock moves), another user's file (404 on download, 400 in content on
// create, send and edit), the download headers, the cookie CSRF rule with the file's own type, and the retention
// sweep on the mock clock (an unreferenced file goes after 24 h, a referenced one stays).
import { createMockClock, type MockClock } from '@chatd/clock';
import { useTestDatabase } from '@chatd/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import { DEFAULT_FILE_RETENTION_MS } from '../src/config.js';
import { DEFAULT_FILE_UPLOADS_PER_MINUTE, MAX_FILE_BYTES } from '../src/server/file-routes.js';
import { FILE_SWEEP_TIMER_TAG } from '../src/worker/file-sweeper.js';
import type { RunningChatd } from '../src/start-chatd-server.js';
import { apiClient, startTestReplica, userToken } from './helpers/server-harness.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });
let clock: MockClock;
let replica: RunningChatd;
let alice: { token: string; userId: string };
let bob: { token: string; userId: string };

beforeAll(async () => {
  clock = createMockClock({ now: new Date('2026-01-01T00:00:00Z') });
  // No worker: these tests are about the routes and the sweep, not replies.
  replica = await startTestReplica(db.url, { clock, config: { databaseUrl: db.url, worker: false } });
  alice = await userToken(replica, 'alice');
  bob = await userToken(replica, 'bob');
});
afterAll(async () => {
  await replica?.close();
});

const base = (v2 = false) => `${replica.url}/api/${v2 ? 'v2' : 'experimental'}/chats`;

async function upload(token: string, body: Uint8Array | string, type: string, headers: Record<string, string> = {}, v2 = false) {
  const res = await fetch(`${base(v2)}/files`, { method: 'POST', headers: { 'coder-session-token': token, 'content-type': type, ...headers }, body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as any) : undefined };
}

const fileCount = async (ownerId: string) => (await replica.chatd.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM chat_files WHERE owner_id = $1', [ownerId])).rows[0]!.n;
const uploadCount = (outcome: string) => replica.server.metrics.get('chatd_file_uploads_total', { outcome });

describe('POST /files and GET /files/{id}', () => {
  it('stores the bytes and answers them to the uploader with their type, nosniff and attachment (both base paths)', async () => {
    const bytes = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 3, 255]);
    const up = await upload(alice.token, bytes, 'image/png', { 'content-disposition': `attachment; filename="a\\"b.png"; filename*=UTF-8''%C3%A9t%C3%A9.png` }, true);
    expect(up.status).toBe(201);
    expect(Object.keys(up.body)).toEqual(['id']);
    for (const v2 of [false, true]) {
      const res = await fetch(`${base(v2)}/files/${up.body.id}`, { headers: { 'coder-session-token': alice.token } });
      expect(res.status).toBe(200);
      expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes);
      expect(res.headers.get('content-type')).toBe('image/png');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      // The exact name in RFC 5987 form, an ASCII fallback with nothing that could end the quoted string.
      expect(res.headers.get('content-disposition')).toBe(`attachment; filename="_t_.png"; filename*=UTF-8''%C3%A9t%C3%A9.png`);
    }
    const row = (await replica.chatd.pool.query('SELECT name, media_type, size, encode(sha256, $2) AS sha FROM chat_files WHERE id = $1', [up.body.id, 'hex'])).rows[0];
    expect(row).toEqual({ name: 'été.png', media_type: 'image/png', size: bytes.length, sha: (await import('node:crypto')).createHash('sha256').update(bytes).digest('hex') });
  });

  it('answers another user\'s file, a missing one and a non-UUID id with the same 404', async () => {
    const up = await upload(alice.token, 'secret notes', 'text/plain; charset=utf-8');
    expect(up.status).toBe(201);
    for (const id of [up.body.id, '00000000-0000-4000-8000-000000000000', 'nope']) {
      const res = await fetch(`${base()}/files/${id}`, { headers: { 'coder-session-token': bob.token } });
      expect(res.status, id).toBe(404);
      expect(await res.text()).not.toContain('secret');
    }
  });

  it('takes exactly 10 MiB and refuses one byte more with 413, storing nothing', async () => {
    const before = await fileCount(bob.userId);
    const exact = await upload(bob.token, new Uint8Array(MAX_FILE_BYTES), 'application/pdf');
    expect(exact.status).toBe(201);
    const tooLarge = uploadCount('too_large');
    const over = await upload(bob.token, new Uint8Array(MAX_FILE_BYTES + 1), 'application/pdf');
    expect(over.status).toBe(413);
    expect(uploadCount('too_large')).toBe(tooLarge + 1);
    expect(await fileCount(bob.userId)).toBe(before + 1);
    // Streamed without a declared length: the reader stops past the limit too.
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 11; i++) controller.enqueue(new Uint8Array(1024 * 1024));
        controller.close();
      },
    });
    const res = await fetch(`${base()}/files`, { method: 'POST', headers: { 'coder-session-token': bob.token, 'content-type': 'application/pdf' }, body: chunks, duplex: 'half' } as RequestInit);
    expect(res.status).toBe(413);
    expect(await fileCount(bob.userId)).toBe(before + 1);
  });

  it('refuses other types with 415', async () => {
    for (const type of ['text/html', 'image/svg+xml', 'application/octet-stream', '']) {
      const r = await upload(bob.token, '<svg onload=alert(1)>', type);
      expect(r.status, type).toBe(415);
    }
  });

  it('allows 30 uploads a minute per user: the next is a 429 with Retry-After, and the clock brings one back', async () => {
    const carol = await userToken(replica, 'carol');
    for (let i = 0; i < DEFAULT_FILE_UPLOADS_PER_MINUTE; i++) expect((await upload(carol.token, `n${i}`, 'text/csv')).status).toBe(201);
    const limited = await upload(carol.token, 'one more', 'text/csv');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('2');
    // Another user's budget is their own.
    expect((await upload(bob.token, 'x', 'text/csv')).status).toBe(201);
    await clock.advance(2_000);
    expect((await upload(carol.token, 'back', 'text/csv')).status).toBe(201);
  });

  it('checks the organization query: not a UUID is 400, not a member is 403', async () => {
    const org = (await replica.chatd.identity.defaultOrganization()).id;
    expect((await upload(alice.token, 'x', 'text/plain', {}, false)).status).toBe(201);
    const ok = await fetch(`${base()}/files?organization=${org}`, { method: 'POST', headers: { 'coder-session-token': alice.token, 'content-type': 'text/plain' }, body: 'x' });
    expect(ok.status).toBe(201);
    const bad = await fetch(`${base()}/files?organization=nope`, { method: 'POST', headers: { 'coder-session-token': alice.token, 'content-type': 'text/plain' }, body: 'x' });
    expect(bad.status).toBe(400);
    const other = await fetch(`${base()}/files?organization=00000000-0000-4000-8000-000000000000`, { method: 'POST', headers: { 'coder-session-token': alice.token, 'content-type': 'text/plain' }, body: 'x' });
    expect(other.status).toBe(403);
  });

  it('with the session cookie: the file\'s own type passes from our origin; a foreign origin is a 403', async () => {
    const cookie = `coder_session_token=${alice.token}`;
    const own = await fetch(`${base()}/files`, { method: 'POST', headers: { cookie, origin: replica.url, 'content-type': 'image/gif' }, body: 'GIF89a' });
    expect(own.status).toBe(201);
    const foreign = await fetch(`${base()}/files`, { method: 'POST', headers: { cookie, origin: 'https://evil.example', 'content-type': 'image/gif' }, body: 'GIF89a' });
    expect(foreign.status).toBe(403);
    const noOrigin = await fetch(`${base()}/files`, { method: 'POST', headers: { cookie, 'content-type': 'image/gif' }, body: 'GIF89a' });
    expect(noOrigin.status).toBe(403);
  });
});

describe('file parts in content', () => {
  it('fills media type and name from the row; another user\'s file is a 400 on create, send and edit, changing nothing', async () => {
    const api = apiClient(replica.url, alice.token);
    const mine = (await upload(alice.token, '{"a":1}', 'application/json', { 'content-disposition': 'attachment; filename=data.json' })).body.id as string;
    const bobs = (await upload(bob.token, 'bob only', 'text/plain')).body.id as string;
    const created = await api('POST', '', { content: [{ type: 'text', text: 'see' }, { type: 'file', file_id: mine.toUpperCase(), media_type: 'text/html', name: 'lie.html' }] });
    expect(created.status).toBe(201);
    const chatId = created.body.id as string;
    const messages = (await api('GET', `/${chatId}/messages`)).body.messages as { id: number; role: string; content: unknown[] }[];
    const first = messages.find((m) => m.role === 'user')!;
    expect(first.content).toEqual([{ type: 'text', text: 'see' }, { type: 'file', file_id: mine, media_type: 'application/json', name: 'data.json' }]);

    const countMessages = async () => (await replica.chatd.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM chat_messages WHERE chat_id = $1', [chatId])).rows[0]!.n;
    const chatsBefore = (await api('GET', '')).body.length as number;
    const before = await countMessages();
    const foreign = [{ type: 'file', file_id: bobs }];
    for (const [method, path] of [
      ['POST', ''],
      ['POST', `/${chatId}/messages`],
      ['PATCH', `/${chatId}/messages/${first.id}`],
    ] as const) {
      const r = await api(method, path, { content: foreign });
      expect(r.status, `${method} ${path}`).toBe(400);
      expect(r.body.detail).toBe('content[0].file_id is not a file you uploaded.');
    }
    expect(await countMessages()).toBe(before);
    expect((await api('GET', '')).body.length).toBe(chatsBefore);
    // The owner's own file goes through send and edit alike.
    expect((await api('POST', `/${chatId}/messages`, { content: [{ type: 'file', file_id: mine }] })).status).toBe(200);
  });
});

describe('retention sweep', () => {
  it('deletes a file no message references 24 h after upload, keeps a referenced one', async () => {
    const dave = await userToken(replica, 'dave');
    const api = apiClient(replica.url, dave.token);
    const kept = (await upload(dave.token, 'kept', 'text/markdown')).body.id as string;
    const dropped = (await upload(dave.token, 'dropped', 'text/markdown')).body.id as string;
    expect((await api('POST', '', { content: [{ type: 'file', file_id: kept }] })).status).toBe(201);
    const swept = () => replica.server.metrics.get('chatd_files_swept_total');
    const sweptBefore = swept();

    // Just before the retention ends nothing goes; the sweep's ticks run on the mock clock.
    await clock.waitForTimer({ tag: FILE_SWEEP_TIMER_TAG });
    await clock.advance(DEFAULT_FILE_RETENTION_MS - 60_000);
    expect(await fileCount(dave.userId)).toBe(2);
    await clock.advance(20 * 60_000);
    await waitForCount(() => fileCount(dave.userId), 1);
    const left = await fetch(`${base()}/files/${dropped}`, { headers: { 'coder-session-token': dave.token } });
    expect(left.status).toBe(404);
    expect((await fetch(`${base()}/files/${kept}`, { headers: { 'coder-session-token': dave.token } })).status).toBe(200);
    expect(swept()).toBeGreaterThan(sweptBefore);
  });
});

/** Polls a count until it reaches `want` (the sweep's tick runs its DELETE asynchronously after the clock moved). */
async function waitForCount(read: () => Promise<number>, want: number): Promise<void> {
  const { waitFor } = await import('@chatd/testkit');
  await waitFor(async () => (await read()) === want, { what: `count ${want}`, timeoutMs: 10_000 });
}
