// A replica killed with SIGKILL in the middle of a compaction (contract.md#compaction). Replica A is a child process
// whose slow demo model writes the summary token by token; the test kills it once its stream shows the
// `chat_summarized` call. Nothing of the compaction is left (no summary, the visible history unchanged, the request
// still pending); replica C, with a short stale bound, recovers the chat and compacts it: exactly one summary.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ChatMessage, ChatStreamEvent } from '@chatd/protocol';
import { useTestDatabase, waitFor } from '@chatd/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import type { RunningChatd } from '../src/start-chatd-server.js';
import { CHAT_SUMMARIZED_TOOL_NAME } from '../src/worker/compaction.js';
import { apiClient, openStream, startTestReplica, userToken } from './helpers/server-harness.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });
const pkgDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** A's pace: a 12-token summary takes about a second, so the kill lands while it is written. */
const A_TOKENS_PER_SECOND = 10;
const A_REPLY_TOKENS = 4;
const A_HEARTBEAT_INTERVAL_MS = 200;
const C_STALE_AFTER_MS = 1500;

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function startChildReplica(databaseUrl: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join('test', 'fixtures', 'replica-child.ts'), databaseUrl, String(A_TOKENS_PER_SECOND), String(A_REPLY_TOKENS), String(A_HEARTBEAT_INTERVAL_MS)],
    { cwd: pkgDir, env: { ...process.env, TSX_TSCONFIG_PATH: path.join(pkgDir, 'test', 'fixtures', 'tsconfig.json') }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines = readline.createInterface({ input: child.stdout! });
  const first = await Promise.race([
    new Promise<string>((resolve) => lines.once('line', resolve)),
    new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`replica A exited (${code}): ${stderr}`)))),
  ]);
  return { child, url: (JSON.parse(first) as { url: string }).url };
}

const summarizedCall = (e: ChatStreamEvent) =>
  e.type === 'message_part' && e.message_part.part.type === 'tool-call' && e.message_part.part.tool_name === CHAT_SUMMARIZED_TOOL_NAME;

describe('a replica killed during a compaction', () => {
  it('leaves no summary and the visible history unchanged; the recovering replica saves exactly one', async () => {
    const b: RunningChatd = await startTestReplica(db.url, { config: { databaseUrl: db.url, worker: false } });
    cleanups.push(() => b.close());
    const { token } = await userToken(b, 'compacted');
    const api = apiClient(b.url, token);
    const a = await startChildReplica(db.url);

    const chatId = (await api('POST', '', { content: 'a long story about the sea and the ships on it' })).body.id as string;
    await waitFor(async () => (await api('GET', `/${chatId}`)).body.status === 'waiting', { what: 'the first reply on A', timeoutMs: 20_000 });
    const visible = async () => ((await api('GET', `/${chatId}/messages`)).body.messages as ChatMessage[]).slice().reverse();
    const before = await visible();
    expect(before.map((m) => m.role)).toEqual(['user', 'assistant']);

    // The stream of A shows the compaction's call as it starts; A dies while the summary is being written.
    const stream = openStream(a.url, chatId, token);
    await stream.opened;
    expect((await api('POST', `/${chatId}/compact`)).status).toBe(202);
    await stream.until((events) => events.some(summarizedCall), 'the chat_summarized part', 20_000);
    a.child.kill('SIGKILL');
    await waitFor(() => a.child.exitCode !== null || a.child.signalCode !== null, { what: 'replica A to die' });
    stream.close();

    const summaries = async () => (await b.chatd.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM chat_messages WHERE chat_id = $1 AND summary', [chatId])).rows[0]!.n;
    expect(await summaries()).toBe(0);
    expect(await visible()).toEqual(before);
    expect(await b.chatd.compaction.pendingRequest(chatId)).toBe('only');

    // C finds A's run stale, hands the chat back and compacts it.
    const c = await startTestReplica(db.url, { config: { databaseUrl: db.url, acquireIntervalMs: 50, staleAfterMs: C_STALE_AFTER_MS, heartbeatIntervalMs: 300 } });
    cleanups.push(() => c.close());
    await waitFor(async () => (await summaries()) === 1 && (await api('GET', `/${chatId}`)).body.status === 'waiting', { what: 'the compaction on C', timeoutMs: 20_000 });
    const after = await visible();
    expect(after.slice(0, 2)).toEqual(before);
    expect(after.map((m) => m.role)).toEqual(['user', 'assistant', 'assistant', 'tool']);
    expect(await b.chatd.compaction.pendingRequest(chatId)).toBeUndefined();
    expect(await summaries()).toBe(1);
  });
});
