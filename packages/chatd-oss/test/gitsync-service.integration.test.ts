// The chat server's gitsync wiring (createChatGitSync) on real PostgreSQL with a mock clock and a fake provider:
// two replicas' workers ticking at the same instant refresh each chat exactly once, each refresh publishes one
// diff_status_change with the chat, archived chats are left alone, and an inline refresh that hangs gives up
// at its deadline with the stored status.
import pg from 'pg';
import type { Chat } from '@chatd/protocol';
import type { Provider, PullRequestRef } from '@chatd/gitsync';
import { useTestDatabase, waitFor } from '@chatd/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIFF_STATUS_REFRESH_TIMEOUT_MS, DIFF_STATUS_REFRESH_TIMER_TAG, createChatGitSync, type ChatGitSync } from '../src/gitsync/chat-git-sync.js';
import type { User } from '../src/identity/identity-store.js';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import { createStoreFixture, ensureModel, makeUser, text, type StoreFixture } from './helpers/store-fixture.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });
const ORIGIN = 'https://git.example/o/r.git';
const INTERVAL_MS = 1000;

let f: StoreFixture;
let owner: User;
const pools: pg.Pool[] = [];

beforeAll(async () => {
  f = createStoreFixture(db.url);
  await ensureModel(f);
  owner = await makeUser(f, 'gitsvc');
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
  await f?.close();
});

/** A fake provider for git.example: every branch but `no-pr` and `hang` has PR #(index); calls are counted per branch. */
function fakeProvider() {
  const calls = new Map<string, number>();
  const statusCalls: number[] = [];
  let maxInFlightPerBranch = 0;
  const perBranch = new Map<string, number>();
  const provider: Provider = {
    name: 'fake',
    async resolveBranchPullRequest(_token, ref) {
      calls.set(ref.branch, (calls.get(ref.branch) ?? 0) + 1);
      perBranch.set(ref.branch, (perBranch.get(ref.branch) ?? 0) + 1);
      maxInFlightPerBranch = Math.max(maxInFlightPerBranch, perBranch.get(ref.branch)!);
      try {
        if (ref.branch === 'hang') return await new Promise<never>(() => undefined);
        await Promise.resolve();
        return ref.branch === 'no-pr' ? null : { owner: ref.owner, repo: ref.repo, number: Number(ref.branch.replace(/\D/g, '')) + 1 };
      } finally {
        perBranch.set(ref.branch, perBranch.get(ref.branch)! - 1);
      }
    },
    async fetchPullRequestStatus(_token, ref: PullRequestRef) {
      statusCalls.push(ref.number);
      return {
        title: `PR ${ref.number}`,
        state: 'open',
        draft: false,
        headSha: 'sha',
        headBranch: 'b',
        baseBranch: 'main',
        diffStats: { additions: ref.number, deletions: 1, changedFiles: 1 },
        changesRequested: false,
        approved: true,
        reviewerCount: 1,
        authorLogin: 'alice',
        authorAvatarUrl: '',
        prNumber: ref.number,
        commits: 1,
        fetchedAt: new Date(0),
      };
    },
    fetchPullRequestDiff: async () => '',
    fetchBranchDiff: async () => '',
    parseRepositoryOrigin: (raw) => (raw.startsWith('https://git.example/') ? { owner: 'o', repo: 'r', normalizedUrl: 'https://git.example/o/r' } : null),
    parsePullRequestUrl: (raw) => {
      const m = /^https:\/\/git\.example\/o\/r\/pull\/(\d+)$/.exec(raw);
      return m ? { owner: 'o', repo: 'r', number: Number(m[1]) } : null;
    },
    normalizePullRequestUrl: (raw) => raw,
    buildBranchUrl: () => '',
    buildRepositoryUrl: () => 'https://git.example/o/r',
    buildPullRequestUrl: (ref) => `https://git.example/o/r/pull/${ref.number}`,
  };
  return {
    provider,
    calls,
    statusCalls,
    get maxInFlightPerBranch() {
      return maxInFlightPerBranch;
    },
  };
}

/** A replica's gitsync on its own pool, sharing the fixture's mock clock; published events are recorded. */
function replicaGitSync(provider: Provider) {
  const pool = new pg.Pool({ connectionString: db.url, max: 4 });
  pool.on('error', () => {});
  pools.push(pool);
  const events: { kind: string; chat: Chat }[] = [];
  const warnings: string[] = [];
  const gitsync: ChatGitSync = createChatGitSync({
    pool,
    clock: f.clock,
    chats: f.chats,
    publisher: {
      publishChatEvent: async (kind, chat) => {
        events.push({ kind, chat });
      },
    },
    resolver: () => provider,
    tokens: () => 'token',
    intervalMs: INTERVAL_MS,
    logger: { debug: () => undefined, info: () => undefined, warn: (_o, msg) => warnings.push(msg ?? ''), error: () => undefined },
  });
  return { gitsync, events, warnings };
}

async function pushedChat(gitsync: ChatGitSync, branch: string): Promise<Chat> {
  const { chat } = await f.chats.createChat({ ownerId: owner.id, content: text('hi') });
  await gitsync.reportGitRef(chat, { origin: ORIGIN, branch });
  return chat;
}

describe('gitsync service: background workers', () => {
  it('two workers ticking at once refresh every pushed chat exactly once, skip archived chats, and publish each change', async () => {
    const fake = fakeProvider();
    const a = replicaGitSync(fake.provider);
    const b = replicaGitSync(fake.provider);
    const chats: Chat[] = [];
    for (let i = 0; i < 30; i++) chats.push(await pushedChat(a.gitsync, `b${i}`));
    const archived = await pushedChat(a.gitsync, 'b99');
    await f.chats.updateChat({ chatId: archived.id, ownerId: owner.id, archived: true });
    // markStale published one event per chat already; count only the refreshes from here.
    a.events.length = 0;

    a.gitsync.start();
    b.gitsync.start();
    try {
      await f.clock.advance(INTERVAL_MS);
      await waitFor(
        async () => {
          const rows = await a.gitsync.store.getChatDiffStatusesByChatIds(chats.map((c) => c.id));
          // A change is published after its row is written: wait for both before stopping the workers.
          return [...rows.values()].every((r) => r.refreshed_at !== null) && a.events.length + b.events.length >= chats.length;
        },
        { what: 'every chat refreshed and published', timeoutMs: 15_000 },
      );
    } finally {
      await Promise.all([a.gitsync.stop(), b.gitsync.stop()]);
    }

    for (const chat of chats) {
      const branch = `b${chats.indexOf(chat)}`;
      expect(fake.calls.get(branch)).toBe(1);
    }
    expect(fake.maxInFlightPerBranch).toBe(1);
    expect(fake.calls.has('b99')).toBe(false);
    expect((await a.gitsync.store.getChatDiffStatus(archived.id))?.refreshed_at).toBeNull();

    const events = [...a.events, ...b.events];
    expect(events).toHaveLength(chats.length);
    for (const e of events) {
      expect(e.kind).toBe('diff_status_change');
      expect(e.chat.diff_status?.chat_id).toBe(e.chat.id);
      expect(e.chat.diff_status?.url).toMatch(/^https:\/\/git\.example\/o\/r\/pull\/\d+$/);
      expect(e.chat.diff_status?.refreshed_at).toBe(f.clock.now().toISOString());
    }
    expect(new Set(events.map((e) => e.chat.id))).toEqual(new Set(chats.map((c) => c.id)));
  });
});

describe('gitsync service: inline refresh', () => {
  it('reportGitRef publishes the pushed chat with its (PR-less) status', async () => {
    const fake = fakeProvider();
    const a = replicaGitSync(fake.provider);
    const chat = await pushedChat(a.gitsync, 'no-pr');
    expect(a.events).toHaveLength(1);
    expect(a.events[0]).toMatchObject({ kind: 'diff_status_change', chat: { id: chat.id, title: chat.title, diff_status: { chat_id: chat.id, additions: 0 } } });
    expect(a.events[0]!.chat.diff_status?.stale_at).toBe(new Date(f.clock.nowMs() - 1000).toISOString());
  });

  it('a stale row is refreshed on read; a fresh one is served without a provider call', async () => {
    const fake = fakeProvider();
    const a = replicaGitSync(fake.provider);
    const chat = await pushedChat(a.gitsync, 'b5');
    const first = await a.gitsync.diffStatus(chat);
    expect(first).toMatchObject({ url: 'https://git.example/o/r/pull/6', pull_request_state: 'open', additions: 6 });
    const again = await a.gitsync.diffStatus(chat);
    expect(again).toEqual(first);
    expect(fake.calls.get('b5')).toBe(1);
    expect(fake.statusCalls).toEqual([6]);
    // Once the TTL has run out it refreshes again, from the known PR URL (no branch lookup).
    await f.clock.advance(120_000);
    const third = await a.gitsync.diffStatus(chat);
    expect(third.refreshed_at).toBe(f.clock.now().toISOString());
    expect(fake.statusCalls).toEqual([6, 6]);
    expect(fake.calls.get('b5')).toBe(1);
  });

  it('an inline refresh that hangs gives up at its deadline and answers with the stored status', async () => {
    const fake = fakeProvider();
    const a = replicaGitSync(fake.provider);
    const chat = await pushedChat(a.gitsync, 'hang');
    const pending = a.gitsync.diffStatus(chat);
    const timer = await f.clock.waitForTimer({ tag: DIFF_STATUS_REFRESH_TIMER_TAG });
    expect(timer.delayMs).toBe(DIFF_STATUS_REFRESH_TIMEOUT_MS);
    await f.clock.advance(DIFF_STATUS_REFRESH_TIMEOUT_MS);
    const status = await pending;
    expect(status).toMatchObject({ chat_id: chat.id, additions: 0 });
    expect(status.url).toBeUndefined();
    expect(a.warnings).toContain('inline diff status refresh failed');
    expect(f.clock.pendingTimers().some((t) => t.tag === DIFF_STATUS_REFRESH_TIMER_TAG)).toBe(false);
  });
});
