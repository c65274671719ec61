// The PostgreSQL Store of @chatd/gitsync on a real database: the acquisition claim (SKIP LOCKED, archived chats,
// eligibility), backoff, the full upsert, the reference upsert's keep rules, listing by workspace and the
// foreign key to chats. "Now" comes from a mock clock, so every timestamp is checked exactly.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { ACQUISITION_LOCK_MS, type UpsertChatDiffStatusParams } from '@chatd/gitsync';
import { useTestDatabase } from '@chatd/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatdError } from '../src/chatd-error.js';
import { createPgDiffStatusStore, type PgDiffStatusStore } from '../src/gitsync/pg-diff-status-store.js';
import type { User } from '../src/identity/identity-store.js';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import { createStoreFixture, ensureModel, makeUser, text, type StoreFixture } from './helpers/store-fixture.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });
let f: StoreFixture;
let store: PgDiffStatusStore;
let owner: User;

beforeAll(async () => {
  f = createStoreFixture(db.url);
  store = createPgDiffStatusStore({ pool: f.pool, clock: f.clock });
  await ensureModel(f);
  owner = await makeUser(f, 'git');
});
afterAll(async () => {
  await f?.close();
});

const ORIGIN = 'https://github.com/o/r.git';

async function newChat(options: { workspaceId?: string; user?: User } = {}): Promise<string> {
  const { chat } = await f.chats.createChat({ ownerId: (options.user ?? owner).id, content: text('hi'), ...(options.workspaceId ? { workspaceId: options.workspaceId } : {}) });
  return chat.id;
}

/** A chat with a reference row that is stale `agoMs` before now. */
async function staleChat(agoMs = 1000, ref: { branch?: string; origin?: string } = {}): Promise<string> {
  const chatId = await newChat();
  await store.upsertChatDiffStatusReference({
    chat_id: chatId,
    url: null,
    git_branch: ref.branch ?? 'feat',
    git_remote_origin: ref.origin ?? ORIGIN,
    stale_at: new Date(f.clock.nowMs() - agoMs),
  });
  return chatId;
}

/** Pushes every existing row into the future so a test only sees its own rows. */
async function parkAllRows(): Promise<void> {
  await f.pool.query(`UPDATE chat_diff_statuses SET stale_at = $1`, [new Date(f.clock.nowMs() + 365 * 86_400_000)]);
}

function fullParams(chatId: string, overrides: Partial<UpsertChatDiffStatusParams> = {}): UpsertChatDiffStatusParams {
  const now = f.clock.nowMs();
  return {
    chat_id: chatId,
    url: 'https://github.com/o/r/pull/7',
    pull_request_state: 'open',
    pull_request_title: 'Add things',
    pull_request_draft: true,
    changes_requested: true,
    additions: 10,
    deletions: 3,
    changed_files: 2,
    author_login: 'alice',
    author_avatar_url: 'https://avatars.example/alice',
    base_branch: 'main',
    head_branch: 'feat',
    pr_number: 7,
    commits: 4,
    approved: false,
    reviewer_count: 1,
    refreshed_at: new Date(now),
    stale_at: new Date(now + 120_000),
    ...overrides,
  };
}

describe('gitsync store: reference upsert', () => {
  it('inserts a row with the reference, clock timestamps and zero PR fields', async () => {
    const chatId = await newChat();
    const staleAt = new Date(f.clock.nowMs() - 1000);
    const row = await store.upsertChatDiffStatusReference({ chat_id: chatId, url: null, git_branch: 'feat', git_remote_origin: ORIGIN, stale_at: staleAt });
    expect(row).toMatchObject({
      chat_id: chatId,
      url: null,
      git_branch: 'feat',
      git_remote_origin: ORIGIN,
      pull_request_state: null,
      pull_request_title: '',
      changes_requested: false,
      additions: 0,
      deletions: 0,
      changed_files: 0,
      pr_number: null,
      refreshed_at: null,
    });
    expect(row.stale_at).toEqual(staleAt);
    expect(row.created_at).toEqual(f.clock.now());
    expect(row.updated_at).toEqual(f.clock.now());
    expect(await store.getChatDiffStatus(chatId)).toEqual(row);
  });

  it('keeps url on null, branch on "" and origin on ""; always moves stale_at and updated_at', async () => {
    const chatId = await newChat();
    await store.upsertChatDiffStatusReference({ chat_id: chatId, url: 'https://github.com/o/r/pull/1', git_branch: 'feat', git_remote_origin: ORIGIN, stale_at: f.clock.now() });
    const created = f.clock.now();
    await f.clock.advance(5000);
    const kept = await store.upsertChatDiffStatusReference({ chat_id: chatId, url: null, git_branch: '', git_remote_origin: '', stale_at: new Date(f.clock.nowMs() + 9) });
    expect(kept).toMatchObject({ url: 'https://github.com/o/r/pull/1', git_branch: 'feat', git_remote_origin: ORIGIN });
    expect(kept.stale_at).toEqual(new Date(f.clock.nowMs() + 9));
    expect(kept.updated_at).toEqual(f.clock.now());
    expect(kept.created_at).toEqual(created);

    const replaced = await store.upsertChatDiffStatusReference({ chat_id: chatId, url: 'https://github.com/o/r/pull/2', git_branch: 'other', git_remote_origin: 'git@github.com:o/r.git', stale_at: f.clock.now() });
    expect(replaced).toMatchObject({ url: 'https://github.com/o/r/pull/2', git_branch: 'other', git_remote_origin: 'git@github.com:o/r.git' });
  });

  it('does not touch the PR fields a refresh wrote', async () => {
    const chatId = await newChat();
    await store.upsertChatDiffStatus(fullParams(chatId));
    const row = await store.upsertChatDiffStatusReference({ chat_id: chatId, url: null, git_branch: 'feat', git_remote_origin: ORIGIN, stale_at: f.clock.now() });
    expect(row).toMatchObject({ url: 'https://github.com/o/r/pull/7', pull_request_state: 'open', additions: 10, pr_number: 7, author_login: 'alice' });
  });

  it('refuses an unknown chat with NOT_FOUND (foreign key)', async () => {
    const err = await store.upsertChatDiffStatusReference({ chat_id: randomUUID(), url: null, git_branch: 'b', git_remote_origin: ORIGIN, stale_at: f.clock.now() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChatdError);
    expect((err as ChatdError).code).toBe('NOT_FOUND');
  });

  it('loses the row with its chat (ON DELETE CASCADE)', async () => {
    const chatId = await staleChat();
    await f.pool.query('DELETE FROM chats WHERE id = $1', [chatId]);
    expect(await store.getChatDiffStatus(chatId)).toBeUndefined();
  });
});

describe('gitsync store: full upsert and backoff', () => {
  it('upsert writes every PR field, leaves branch and origin, and sets updated_at from the clock', async () => {
    const chatId = await staleChat(1000, { branch: 'feat' });
    await f.clock.advance(1000);
    const params = fullParams(chatId);
    const row = await store.upsertChatDiffStatus(params);
    const { chat_id: _id, ...fields } = params;
    expect(row).toMatchObject(fields);
    expect(row).toMatchObject({ git_branch: 'feat', git_remote_origin: ORIGIN });
    expect(row.updated_at).toEqual(f.clock.now());

    // A second refresh overwrites everything, nulls included.
    const second = await store.upsertChatDiffStatus(
      fullParams(chatId, { url: null, pull_request_state: 'merged', author_login: null, pr_number: null, approved: null, changes_requested: false, additions: 0 }),
    );
    expect(second).toMatchObject({ url: null, pull_request_state: 'merged', author_login: null, pr_number: null, approved: null, changes_requested: false, additions: 0 });
  });

  it('upsert inserts a row when the chat has none (branch and origin empty)', async () => {
    const chatId = await newChat();
    const row = await store.upsertChatDiffStatus(fullParams(chatId));
    expect(row).toMatchObject({ chat_id: chatId, git_branch: '', git_remote_origin: '', pr_number: 7 });
    expect(row.created_at).toEqual(f.clock.now());
  });

  it('backoff changes stale_at and nothing else', async () => {
    const chatId = await staleChat();
    await store.upsertChatDiffStatus(fullParams(chatId));
    const before = (await store.getChatDiffStatus(chatId))!;
    await f.clock.advance(7000);
    const staleAt = new Date(f.clock.nowMs() + 600_000);
    await store.backoffChatDiffStatus({ chat_id: chatId, stale_at: staleAt });
    const after = (await store.getChatDiffStatus(chatId))!;
    expect(after).toEqual({ ...before, stale_at: staleAt });
  });
});

describe('gitsync store: acquire', () => {
  it('claims only stale rows with origin and branch on non-archived chats, oldest first, with the owner', async () => {
    await parkAllRows();
    const oldest = await staleChat(3000);
    const newer = await staleChat(1000);
    const exactlyNow = await staleChat(0);
    const future = await staleChat(-1000);
    const noBranch = await staleChat(5000, { branch: '' });
    const noOrigin = await staleChat(5000, { origin: '' });
    const archived = await staleChat(5000);
    await f.chats.updateChat({ chatId: archived, ownerId: owner.id, archived: true });
    const updatedAt = (await store.getChatDiffStatus(oldest))!.updated_at;

    const rows = await store.acquireStaleChatDiffStatuses(50);
    expect(rows.map((r) => r.chat_id)).toEqual([oldest, newer, exactlyNow]);
    for (const r of rows) {
      expect(r.owner_id).toBe(owner.id);
      expect(r.stale_at).toEqual(new Date(f.clock.nowMs() + ACQUISITION_LOCK_MS));
    }
    // The claim leaves updated_at alone (the no-PR retry window is measured from it).
    expect(rows[0]!.updated_at).toEqual(updatedAt);
    for (const id of [future, noBranch, noOrigin, archived]) expect(rows.some((r) => r.chat_id === id)).toBe(false);

    // Claimed rows are not eligible again until the lock runs out.
    expect(await store.acquireStaleChatDiffStatuses(50)).toEqual([]);
    // Once it has, they are back, behind the row that became stale meanwhile (its stale_at is older).
    await f.clock.advance(ACQUISITION_LOCK_MS);
    const again = (await store.acquireStaleChatDiffStatuses(50)).map((r) => r.chat_id);
    expect(again[0]).toBe(future);
    expect(new Set(again.slice(1))).toEqual(new Set([oldest, newer, exactlyNow]));
  });

  it('honours the limit', async () => {
    await parkAllRows();
    const ids = [await staleChat(4000), await staleChat(3000), await staleChat(2000)];
    expect((await store.acquireStaleChatDiffStatuses(2)).map((r) => r.chat_id)).toEqual(ids.slice(0, 2));
    expect((await store.acquireStaleChatDiffStatuses(2)).map((r) => r.chat_id)).toEqual(ids.slice(2));
  });

  it('skips a row another transaction holds instead of waiting for it', async () => {
    await parkAllRows();
    const held = await staleChat(2000);
    const free = await staleChat(1000);
    const client = await f.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT 1 FROM chat_diff_statuses WHERE chat_id = $1 FOR UPDATE', [held]);
      expect((await store.acquireStaleChatDiffStatuses(50)).map((r) => r.chat_id)).toEqual([free]);
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    expect((await store.acquireStaleChatDiffStatuses(50)).map((r) => r.chat_id)).toEqual([held]);
  });

  it('two workers acquiring at once never claim the same row', async () => {
    await parkAllRows();
    const ids = new Set<string>();
    for (let i = 0; i < 40; i++) ids.add(await staleChat(1000 + i));
    const otherPool = new pg.Pool({ connectionString: db.url, max: 4 });
    otherPool.on('error', () => {});
    const other = createPgDiffStatusStore({ pool: otherPool, clock: f.clock });
    try {
      const batches = await Promise.all([
        ...Array.from({ length: 4 }, () => store.acquireStaleChatDiffStatuses(7)),
        ...Array.from({ length: 4 }, () => other.acquireStaleChatDiffStatuses(7)),
      ]);
      const claimed = batches.flat().map((r) => r.chat_id);
      expect(new Set(claimed).size).toBe(claimed.length);
      for (const id of claimed) expect(ids.has(id)).toBe(true);
      // 8 x 7 slots for 40 rows: whatever a racing batch skipped, a later call still finds.
      const rest = (await other.acquireStaleChatDiffStatuses(50)).map((r) => r.chat_id);
      expect(new Set([...claimed, ...rest])).toEqual(ids);
      expect(claimed.length + rest.length).toBe(ids.size);
    } finally {
      await otherPool.end();
    }
  });
});

describe('gitsync store: reads', () => {
  it('lists the non-archived chats of workspaces by workspace, newest first', async () => {
    const ws1 = randomUUID();
    const ws2 = randomUUID();
    const a = await newChat({ workspaceId: ws1 });
    await f.clock.advance(1000);
    const b = await newChat({ workspaceId: ws1 });
    const c = await newChat({ workspaceId: ws2 });
    const archived = await newChat({ workspaceId: ws1 });
    await f.chats.updateChat({ chatId: archived, ownerId: owner.id, archived: true });
    await newChat();
    const listed = await store.getChatsByWorkspaceIds([ws1, ws2, 'not-a-uuid']);
    const byWorkspace = [ws1, ws2].sort();
    const expected = byWorkspace.flatMap((ws) => (ws === ws1 ? [b, a] : [c]));
    expect(listed.map((x) => x.id)).toEqual(expected);
    expect(listed.find((x) => x.id === a)).toEqual({ id: a, owner_id: owner.id, workspace_id: ws1 });
    expect(await store.getChatsByWorkspaceIds([])).toEqual([]);
  });

  it('reads the statuses of several chats at once, leaving out chats without one', async () => {
    const withRow = await staleChat();
    const without = await newChat();
    const map = await store.getChatDiffStatusesByChatIds([withRow, without, 'bogus']);
    expect([...map.keys()]).toEqual([withRow]);
    expect(map.get(withRow)?.git_branch).toBe('feat');
    expect(await store.getChatDiffStatus('bogus')).toBeUndefined();
  });
});
