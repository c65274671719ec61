// Shared test fixtures: a fake git provider with counted calls, row builders, deferreds, a store wrapper that
// records calls and injects failures, and a helper that runs exactly one worker tick on the mock clock.
import type { MockClock } from '@chatd/clock';
import {
  createGitHubUrls,
  WORKER_TICK_TAG,
  type BranchRef,
  type ChatDiffStatusRow,
  type Provider,
  type ProviderCallOptions,
  type PullRequestRef,
  type PullRequestStatus,
  type Store,
} from '../src/index.js';

export const CHAT_1 = '00000000-0000-4000-8000-000000000001';
export const CHAT_2 = '00000000-0000-4000-8000-000000000002';
export const CHAT_3 = '00000000-0000-4000-8000-000000000003';
export const OWNER_1 = '10000000-0000-4000-8000-000000000001';
export const OWNER_2 = '10000000-0000-4000-8000-000000000002';
export const WORKSPACE_1 = '20000000-0000-4000-8000-000000000001';
export const WORKSPACE_2 = '20000000-0000-4000-8000-000000000002';
export const ORIGIN = 'https://github.com/o/r.git';

export type Deferred<T> = { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void };

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets pending promise callbacks and I/O callbacks run (one macrotask turn; no time passes). */
export const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export function makeRow(overrides: Partial<ChatDiffStatusRow> = {}): ChatDiffStatusRow {
  const epoch = new Date(Date.UTC(2026, 0, 1));
  return {
    chat_id: CHAT_1,
    url: null,
    pull_request_state: null,
    pull_request_title: '',
    pull_request_draft: false,
    changes_requested: false,
    additions: 0,
    deletions: 0,
    changed_files: 0,
    author_login: null,
    author_avatar_url: null,
    base_branch: null,
    head_branch: null,
    pr_number: null,
    commits: null,
    approved: null,
    reviewer_count: null,
    refreshed_at: null,
    stale_at: epoch,
    created_at: epoch,
    updated_at: epoch,
    git_branch: 'feat',
    git_remote_origin: ORIGIN,
    ...overrides,
  };
}

export function makeStatus(overrides: Partial<PullRequestStatus> = {}): PullRequestStatus {
  return {
    title: 'Add a feature',
    state: 'open',
    draft: false,
    headSha: 'abc123',
    headBranch: 'feat',
    baseBranch: 'main',
    diffStats: { additions: 10, deletions: 5, changedFiles: 3 },
    changesRequested: false,
    approved: false,
    reviewerCount: 0,
    authorLogin: 'alice',
    authorAvatarUrl: 'https://avatars.example/alice',
    prNumber: 7,
    commits: 2,
    fetchedAt: new Date(Date.UTC(2026, 0, 1)),
    ...overrides,
  };
}

type Call<T> = { token: string; ref: T; signal: AbortSignal | undefined };

export type FakeProvider = Provider & {
  resolveCalls: Call<BranchRef>[];
  statusCalls: Call<PullRequestRef>[];
  inFlight: number;
  maxInFlight: number;
};

export type FakeProviderOptions = {
  webBaseUrl?: string;
  resolve?: (token: string, ref: BranchRef, signal: AbortSignal | undefined) => Promise<PullRequestRef | null>;
  status?: (token: string, ref: PullRequestRef, signal: AbortSignal | undefined) => Promise<PullRequestStatus>;
};

/** A provider on a GitHub-like host whose HTTP methods are test functions; unwired diff methods throw. */
export function createFakeProvider(options: FakeProviderOptions = {}): FakeProvider {
  const web = options.webBaseUrl ?? 'https://github.com';
  const urls = createGitHubUrls(`${web}/api/v3`, web);
  const resolve = options.resolve ?? (async (_t, ref) => ({ owner: ref.owner, repo: ref.repo, number: 7 }));
  const status = options.status ?? (async () => makeStatus());
  const fake: FakeProvider = {
    name: 'fake',
    resolveCalls: [],
    statusCalls: [],
    inFlight: 0,
    maxInFlight: 0,
    async resolveBranchPullRequest(token: string, ref: BranchRef, opts: ProviderCallOptions = {}) {
      fake.resolveCalls.push({ token, ref, signal: opts.signal });
      return resolve(token, ref, opts.signal);
    },
    async fetchPullRequestStatus(token: string, ref: PullRequestRef, opts: ProviderCallOptions = {}) {
      fake.statusCalls.push({ token, ref, signal: opts.signal });
      fake.inFlight++;
      fake.maxInFlight = Math.max(fake.maxInFlight, fake.inFlight);
      try {
        return await status(token, ref, opts.signal);
      } finally {
        fake.inFlight--;
      }
    },
    async fetchPullRequestDiff() {
      throw new Error('fetchPullRequestDiff not wired');
    },
    async fetchBranchDiff() {
      throw new Error('fetchBranchDiff not wired');
    },
    parseRepositoryOrigin: urls.parseRepositoryOrigin,
    parsePullRequestUrl: urls.parsePullRequestUrl,
    normalizePullRequestUrl: urls.normalizePullRequestUrl,
    buildBranchUrl: urls.buildBranchUrl,
    buildRepositoryUrl: urls.buildRepositoryUrl,
    buildPullRequestUrl: urls.buildPullRequestUrl,
  };
  return fake;
}

/** Rejects with the signal's reason once it aborts: a provider call that hangs until cancelled. */
export function untilAborted(signal: AbortSignal | undefined): Promise<never> {
  return new Promise((_, reject) => {
    if (!signal) return;
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

type StoreMethod = keyof Store;

export type SpyStore = Store & {
  calls: Array<{ method: StoreMethod; args: unknown[] }>;
  callsOf(method: StoreMethod): unknown[][];
  /** The next calls of `method` for which `when(args)` is true reject with `error`. */
  failWhen(method: StoreMethod, when: (args: unknown[]) => boolean, error?: Error): void;
};

/** Wraps a store, recording every call and failing the ones a test asks for. */
export function spyStore(inner: Store): SpyStore {
  const calls: SpyStore['calls'] = [];
  const failures: Array<{ method: StoreMethod; when: (args: unknown[]) => boolean; error: Error }> = [];
  const wrap =
    <M extends StoreMethod>(method: M) =>
    async (...args: unknown[]) => {
      calls.push({ method, args });
      const failure = failures.find((f) => f.method === method && f.when(args));
      if (failure) throw failure.error;
      return (inner[method] as (...a: unknown[]) => Promise<unknown>)(...args);
    };
  return {
    acquireStaleChatDiffStatuses: wrap('acquireStaleChatDiffStatuses') as Store['acquireStaleChatDiffStatuses'],
    backoffChatDiffStatus: wrap('backoffChatDiffStatus') as Store['backoffChatDiffStatus'],
    upsertChatDiffStatus: wrap('upsertChatDiffStatus') as Store['upsertChatDiffStatus'],
    upsertChatDiffStatusReference: wrap('upsertChatDiffStatusReference') as Store['upsertChatDiffStatusReference'],
    getChatsByWorkspaceIds: wrap('getChatsByWorkspaceIds') as Store['getChatsByWorkspaceIds'],
    calls,
    callsOf: (method) => calls.filter((c) => c.method === method).map((c) => c.args),
    failWhen(method, when, error = new Error(`${method} failed`)) {
      failures.push({ method, when, error });
    },
  };
}

/**
 * Fires the worker's next tick and resolves once that tick has finished: the ticker re-arms only after its
 * async callback settles, so the re-armed tick timer marks the end of the tick.
 */
export async function runTick(clock: MockClock): Promise<void> {
  const due = await clock.waitForTimer({ tag: WORKER_TICK_TAG });
  const trap = clock.trap({ tag: WORKER_TICK_TAG });
  try {
    await clock.advance(Math.max(0, due.dueAtMs - clock.nowMs()));
    await trap.wait();
  } finally {
    trap.close();
  }
}
