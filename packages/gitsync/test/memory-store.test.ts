import { createMockClock } from '@chatd/clock';
import { describe, expect, it } from 'vitest';
import { ACQUISITION_LOCK_MS, createMemoryStore, hasErrorCode } from '../src/index.js';
import { CHAT_1, CHAT_2, CHAT_3, OWNER_1, OWNER_2, WORKSPACE_1, WORKSPACE_2 } from './helpers.js';

function setup() {
  const clock = createMockClock();
  const store = createMemoryStore({ clock });
  store.putChat({ id: CHAT_1, owner_id: OWNER_1, workspace_id: WORKSPACE_1 });
  store.putChat({ id: CHAT_2, owner_id: OWNER_2, workspace_id: WORKSPACE_1 });
  store.putChat({ id: CHAT_3, owner_id: OWNER_1, workspace_id: WORKSPACE_2 });
  return { clock, store };
}

const ref = (chatId: string, staleAt: Date, overrides: Partial<{ url: string | null; git_branch: string; git_remote_origin: string }> = {}) => ({
  chat_id: chatId,
  url: null,
  git_branch: 'feat',
  git_remote_origin: 'https://github.com/o/r',
  stale_at: staleAt,
  ...overrides,
});

const fullParams = (chatId: string, now: number) => ({
  chat_id: chatId,
  url: 'https://github.com/o/r/pull/1',
  pull_request_state: 'open' as const,
  pull_request_title: 'T',
  pull_request_draft: true,
  changes_requested: true,
  additions: 1,
  deletions: 2,
  changed_files: 3,
  author_login: 'a',
  author_avatar_url: null,
  base_branch: 'main',
  head_branch: 'feat',
  pr_number: 1,
  commits: 4,
  approved: false,
  reviewer_count: 1,
  refreshed_at: new Date(now),
  stale_at: new Date(now + 120_000),
});

describe('createMemoryStore', () => {
  it('acquires only rows with stale_at <= now, claims them for the lock period and leaves updated_at alone', async () => {
    const { clock, store } = setup();
    const now = clock.nowMs();
    await store.upsertChatDiffStatusReference(ref(CHAT_1, new Date(now)));
    await store.upsertChatDiffStatusReference(ref(CHAT_2, new Date(now + 1)));
    const rows = await store.acquireStaleChatDiffStatuses(10);
    expect(rows.map((r) => [r.chat_id, r.owner_id])).toEqual([[CHAT_1, OWNER_1]]);
    expect(rows[0]?.stale_at.getTime()).toBe(now + ACQUISITION_LOCK_MS);
    expect(rows[0]?.updated_at.getTime()).toBe(now);
    expect(store.getChatDiffStatus(CHAT_1)?.stale_at.getTime()).toBe(now + ACQUISITION_LOCK_MS);
    expect(await store.acquireStaleChatDiffStatuses(10)).toEqual([]);
    await clock.advance(1);
    expect((await store.acquireStaleChatDiffStatuses(10)).map((r) => r.chat_id)).toEqual([CHAT_2]);
  });

  it('makes a claimed row eligible again exactly when the lock expires', async () => {
    const { clock, store } = setup();
    await store.upsertChatDiffStatusReference(ref(CHAT_1, clock.now()));
    await store.acquireStaleChatDiffStatuses(10);
    await clock.advance(ACQUISITION_LOCK_MS - 1);
    expect(await store.acquireStaleChatDiffStatuses(10)).toHaveLength(0);
    await clock.advance(1);
    expect(await store.acquireStaleChatDiffStatuses(10)).toHaveLength(1);
  });

  it('orders by stale_at, honours the limit, and skips rows without branch or origin or with an archived chat', async () => {
    const { clock, store } = setup();
    const now = clock.nowMs();
    store.putChat({ id: 'c4', owner_id: OWNER_1, workspace_id: null });
    store.putChat({ id: 'c5', owner_id: OWNER_1, workspace_id: null });
    await store.upsertChatDiffStatusReference(ref(CHAT_1, new Date(now - 10)));
    await store.upsertChatDiffStatusReference(ref(CHAT_2, new Date(now - 30)));
    await store.upsertChatDiffStatusReference(ref(CHAT_3, new Date(now - 20)));
    await store.upsertChatDiffStatusReference(ref('c4', new Date(now - 40), { git_branch: '' }));
    await store.upsertChatDiffStatusReference(ref('c5', new Date(now - 50), { git_remote_origin: '' }));
    store.setArchived(CHAT_3, true);
    expect((await store.acquireStaleChatDiffStatuses(1)).map((r) => r.chat_id)).toEqual([CHAT_2]);
    expect((await store.acquireStaleChatDiffStatuses(5)).map((r) => r.chat_id)).toEqual([CHAT_1]);
  });

  it('reference upsert keeps url, branch and origin when given null or empty, and bumps updated_at', async () => {
    const { clock, store } = setup();
    const now = clock.nowMs();
    await store.upsertChatDiffStatusReference(ref(CHAT_1, new Date(now), { url: 'https://github.com/o/r/pull/9' }));
    await clock.advance(1000);
    const row = await store.upsertChatDiffStatusReference(ref(CHAT_1, new Date(now - 1000), { url: null, git_branch: '', git_remote_origin: '' }));
    expect(row).toMatchObject({ url: 'https://github.com/o/r/pull/9', git_branch: 'feat', git_remote_origin: 'https://github.com/o/r' });
    expect(row.stale_at.getTime()).toBe(now - 1000);
    expect(row.updated_at.getTime()).toBe(now + 1000);
    expect(row.created_at.getTime()).toBe(now);
    const replaced = await store.upsertChatDiffStatusReference(ref(CHAT_1, new Date(now), { url: 'https://github.com/o/r/pull/10', git_branch: 'other', git_remote_origin: 'git@github.com:o/r.git' }));
    expect(replaced).toMatchObject({ url: 'https://github.com/o/r/pull/10', git_branch: 'other', git_remote_origin: 'git@github.com:o/r.git' });
  });

  it('full upsert overwrites PR fields but never branch or origin', async () => {
    const { clock, store } = setup();
    const now = clock.nowMs();
    await store.upsertChatDiffStatusReference(ref(CHAT_1, new Date(now)));
    await clock.advance(5);
    const row = await store.upsertChatDiffStatus(fullParams(CHAT_1, clock.nowMs()));
    expect(row).toMatchObject({ pull_request_title: 'T', pull_request_draft: true, additions: 1, git_branch: 'feat', git_remote_origin: 'https://github.com/o/r' });
    expect(row.updated_at.getTime()).toBe(now + 5);
    const second = await store.upsertChatDiffStatus({ ...fullParams(CHAT_1, clock.nowMs()), url: null, author_login: null, approved: null });
    expect(second).toMatchObject({ url: null, author_login: null, approved: null });
  });

  it('full upsert inserts a row with empty branch and origin when none exists', async () => {
    const { clock, store } = setup();
    const row = await store.upsertChatDiffStatus(fullParams(CHAT_2, clock.nowMs()));
    expect(row).toMatchObject({ chat_id: CHAT_2, git_branch: '', git_remote_origin: '' });
  });

  it('backoff changes stale_at only', async () => {
    const { clock, store } = setup();
    const before = await store.upsertChatDiffStatusReference(ref(CHAT_1, clock.now()));
    await clock.advance(10);
    await store.backoffChatDiffStatus({ chat_id: CHAT_1, stale_at: new Date(12345) });
    const after = store.getChatDiffStatus(CHAT_1)!;
    expect(after.stale_at.getTime()).toBe(12345);
    expect({ ...after, stale_at: before.stale_at }).toEqual(before);
  });

  it('rejects writes for a chat that does not exist (foreign key) and cascades chat deletion', async () => {
    const { clock, store } = setup();
    await expect(store.upsertChatDiffStatusReference(ref('missing', clock.now()))).rejects.toSatisfy((e) => hasErrorCode(e, 'STORE_ERROR'));
    await store.upsertChatDiffStatusReference(ref(CHAT_1, clock.now()));
    store.deleteChat(CHAT_1);
    expect(store.getChatDiffStatus(CHAT_1)).toBeUndefined();
    expect(store.listChatDiffStatuses()).toEqual([]);
  });

  it('lists non-archived chats of the workspaces by workspace, then updated_at descending', async () => {
    const { store } = setup();
    store.putChat({ id: CHAT_1, owner_id: OWNER_1, workspace_id: WORKSPACE_1, updated_at: new Date(2) });
    store.putChat({ id: CHAT_2, owner_id: OWNER_2, workspace_id: WORKSPACE_1, updated_at: new Date(3) });
    store.putChat({ id: 'old', owner_id: OWNER_1, workspace_id: WORKSPACE_1, updated_at: new Date(1) });
    store.putChat({ id: 'archived', owner_id: OWNER_1, workspace_id: WORKSPACE_1, archived: true });
    store.putChat({ id: 'other-ws', owner_id: OWNER_1, workspace_id: '20000000-0000-4000-8000-000000000009' });
    const chats = await store.getChatsByWorkspaceIds([WORKSPACE_2, WORKSPACE_1]);
    expect(chats).toEqual([
      { id: CHAT_2, owner_id: OWNER_2, workspace_id: WORKSPACE_1 },
      { id: CHAT_1, owner_id: OWNER_1, workspace_id: WORKSPACE_1 },
      { id: 'old', owner_id: OWNER_1, workspace_id: WORKSPACE_1 },
      { id: CHAT_3, owner_id: OWNER_1, workspace_id: WORKSPACE_2 },
    ]);
  });

  it('rejects calls whose signal already aborted', async () => {
    const { store } = setup();
    const controller = new AbortController();
    controller.abort();
    await expect(store.acquireStaleChatDiffStatuses(1, controller.signal)).rejects.toSatisfy((e) => hasErrorCode(e, 'ABORTED'));
  });
});
