// Issue 26 in the chaos suite: agent steps survive a replica's death without running a persisted tool again.
// Two generating replicas load the same server tools (`chatd serve --tools helpers/chaos-tools.mjs`) and talk to
// one stand-in model that plays a two-step turn: step 1 calls `fast_tool`; step 2 calls `slow_idem` and
// `slow_once` (not idempotent) at once. While the slow tools run, the replica running them is killed with
// SIGKILL. The other replica takes the chat over: the persisted `fast_tool` result is never computed again,
// `slow_idem` runs a second time with the same toolCallId, `slow_once` gets the "interrupted" result instead,
// the model writes its reply, and followers on the surviving replica see every part of every persisted step once.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createChatClient } from '@chatd/client';
import { waitFor } from '@chatd/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createToken, eeBin, ossBin, runCli, startChaosPostgres, startReplica, type ChaosPostgres, type Replica } from './helpers/chaos-cluster.js';
import { expectAlive, expectExactlyOnce, history } from './helpers/chaos-checks.js';
import { followChat } from './helpers/stream-follower.js';
import { FINAL_REPLY_WORDS, startToolModelServer, type ToolModelServer } from './helpers/tool-model-server.js';

const TOOLS_MODULE = path.join(path.dirname(new URL(import.meta.url).pathname), 'helpers', 'chaos-tools.mjs');
/** How long a slow tool runs: long enough to kill its replica meanwhile. */
const SLOW_TOOL_MS = 4000;

let pg: ChaosPostgres;
let model: ToolModelServer;
let token: string;
const workers: Replica[] = [];
const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-chaos-tools-'));
const toolLog = path.join(logDir, 'runs.log');
const log = (line: string) => console.log(`[chaos] ${line}`);

type Run = { tool: string; id: string; pid: number };
function toolRuns(): Run[] {
  if (!fs.existsSync(toolLog)) return [];
  return fs
    .readFileSync(toolLog, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [tool, id, pid] = line.split(' ');
      return { tool: tool!, id: id!, pid: Number(pid) };
    });
}

type Part = { type: string; tool_call_id?: string; tool_name?: string; result?: unknown; is_error?: boolean; text?: string };

beforeAll(async () => {
  pg = await startChaosPostgres();
  model = await startToolModelServer();
  runCli(eeBin, ['migrate'], pg.url);
  token = createToken(pg.url, 'agent', true);
  runCli(ossBin, ['model', 'add', '--provider', 'stand-in', '--kind', 'openai-compatible', '--base-url', model.baseUrl, '--model', 'tools', '--default'], pg.url);
  const env = { CHAOS_TOOL_LOG: toolLog, CHAOS_SLOW_TOOL_MS: String(SLOW_TOOL_MS) };
  workers.push(...(await Promise.all([1, 2].map((i) => startReplica({ name: `agent-${i}`, databaseUrl: pg.url, env, args: ['--tools', TOOLS_MODULE] })))));
}, 180_000);

afterAll(async () => {
  await Promise.all(workers.map((r) => r.stop()));
  await model?.close();
  await pg?.destroy();
  fs.rmSync(logDir, { recursive: true, force: true });
});

describe('chaos: agent steps', () => {
  it('kill -9 while server tools run: persisted tools never run again, idempotent ones once more, the rest get "interrupted"', async () => {
    const client = createChatClient({ baseUrl: workers[0]!.url, token });
    const chat = await client.create('use the tools, please');
    const followers = workers.map((r) => ({ r, f: followChat(r.url, token, chat.id) }));
    const started = await waitFor(
      () => {
        const runs = toolRuns();
        const slow = runs.filter((r) => r.tool.startsWith('slow_'));
        return slow.length === 2 ? slow : undefined;
      },
      { what: 'both slow tools to start', timeoutMs: 60_000, intervalMs: 10 },
    );
    const victim = workers.find((w) => w.pid === started[0]!.pid);
    expect(victim, `the slow tools ran in pid ${started[0]!.pid}`).toBeDefined();
    expect(started[1]!.pid).toBe(victim!.pid);
    const t0 = Date.now();
    await victim!.kill9();
    const survivor = followers.find(({ r }) => r !== victim)!;
    followers.find(({ r }) => r === victim)!.f.stop();
    const seen = await survivor.f.done;
    log(`agent steps: the turn ended ${Date.now() - t0} ms after the kill (stale after 3 s, slow tool ${SLOW_TOOL_MS} ms)`);

    // Executions per call, across both processes.
    const runs = toolRuns();
    const byTool = (tool: string) => runs.filter((r) => r.tool === tool);
    expect(byTool('fast_tool'), 'the persisted fast_tool result is never computed again').toHaveLength(1);
    const idem = byTool('slow_idem');
    expect(idem, 'slow_idem runs again after the failure').toHaveLength(2);
    expect(idem[1]!.id, 'with the same toolCallId').toBe(idem[0]!.id);
    expect(idem[1]!.pid).not.toBe(victim!.pid);
    expect(byTool('slow_once'), 'slow_once (idempotent: false) never runs twice').toHaveLength(1);

    // The durable turn: user, step 1 (call + result), step 2 (two calls + results), the reply.
    const h = await history(survivor.r.url, token, chat.id);
    expect(h.status).toBe('waiting');
    const messages = h.messages as unknown as { role: string; content?: Part[] }[];
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant', 'tool', 'assistant']);
    const results = new Map(messages.flatMap((m) => m.content ?? []).filter((p) => p.type === 'tool-result').map((p) => [p.tool_name, p]));
    expect(results.get('fast_tool')).toMatchObject({ result: { fast: true } });
    expect(results.get('fast_tool')?.is_error).toBeFalsy();
    expect(results.get('slow_idem')).toMatchObject({ tool_call_id: idem[0]!.id, result: { slow: 'idempotent' } });
    expect(results.get('slow_once')).toMatchObject({ result: { error: 'interrupted by a replica failure' }, is_error: true });
    expect(seen.finalText?.trim().split(/\s+/)).toHaveLength(FINAL_REPLY_WORDS);

    // The survivor's follower saw every persisted step exactly once.
    await expectExactlyOnce(survivor.r.url, token, chat.id, seen, survivor.r.name);
    expectAlive(workers.filter((w) => w !== victim));
  });
});
