// Issue 34 (metrics): a real replica goes through a known number of events (runs, model steps, a retry, a server
// tool, parts streamed to a subscribed client, a client cut for being too slow) and GET /metrics, the
// prom-client exposition, counts each of them exactly: every histogram's `_count` and every counter.
import { createTcpProxy, useTestDatabase, waitFor } from '@chatd/testkit';
import type { LanguageModelV3StreamPart } from '@ai-sdk/provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { z } from 'zod';
import type { ChatStreamEvent } from '@chatd/protocol';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import { ModelProviderError } from '../src/model/model-error.js';
import { RETRY_BASE_DELAY_MS } from '../src/worker/retry-backoff.js';
import type { RunningChatd } from '../src/start-chatd-server.js';
import type { ServerTool } from '../src/tools/server-tool.js';
import { createTestModel, finishPart, fixedModels, lastUserText, textDelta, usage } from './helpers/test-models.js';
import { apiClient, startTestReplica, userToken } from './helpers/server-harness.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });

/** Text deltas of the tool chat's second step. */
const REPLY_DELTAS = 7;
/** Deltas of the too-slow chat: 80 bytes each, alternating text and reasoning so nothing merges (~2 MB, several MB with the kernel buffers full). */
const UNMERGEABLE_DELTAS = 24_000;
const SHORT_DELTA_TEXT = 'abcdefghij'.repeat(8);
const DELTAS_PER_TURN = 100;

/** One sample of the exposition (0 when the series is absent). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = m[2] ? m[2].split(',') : [];
    if (have.length === want.length && want.every((l) => have.includes(l))) return Number(m[3]);
  }
  return 0;
}

/**
 * The model: `tools` calls the `echo` server tool in step 1 (its first attempt fails as a retryable overload) and
 * answers REPLY_DELTAS text deltas in step 2; `bulk` streams UNMERGEABLE_DELTAS. Each waits for its gate, so the
 * test's clients are subscribed before the first part.
 */
function createModel() {
  const gates = new Map<string, () => void>();
  const opened = new Map<string, Promise<void>>();
  const gate = (name: string) => {
    if (!opened.has(name)) opened.set(name, new Promise<void>((resolve) => gates.set(name, resolve)));
    return opened.get(name)!;
  };
  let attempts = 0;
  const model = createTestModel('metrics', async function* (call): AsyncGenerator<LanguageModelV3StreamPart> {
    const last = call.prompt.at(-1);
    if (lastUserText(call) === 'bulk' && last?.role === 'user') {
      await gate('bulk');
      for (let i = 0; i < UNMERGEABLE_DELTAS; i++) {
        if (call.abortSignal?.aborted) return;
        yield i % 2 ? { type: 'reasoning-delta', id: 'r', delta: SHORT_DELTA_TEXT } : { type: 'text-delta', id: 't', delta: SHORT_DELTA_TEXT };
        if (i % DELTAS_PER_TURN === DELTAS_PER_TURN - 1) await new Promise<void>((resolve) => setImmediate(resolve));
      }
      yield finishPart('stop', usage(1, UNMERGEABLE_DELTAS));
      return;
    }
    if (last?.role === 'tool') {
      for (let i = 0; i < REPLY_DELTAS; i++) yield textDelta(`w${i} `);
      yield finishPart('stop', usage(1, REPLY_DELTAS));
      return;
    }
    if (++attempts === 1) throw new ModelProviderError('OVERLOADED', 'model is overloaded', { provider: 'metrics', statusCode: 529 });
    await gate('tools');
    yield { type: 'tool-call', toolCallId: 'echo-1', toolName: 'echo', input: '{"say":"hi"}' };
    yield { type: 'finish', finishReason: { unified: 'tool-calls', raw: 'tool_calls' }, usage: usage(1, 1) };
  });
  return { model, open: (name: string) => (gate(name), gates.get(name)!()) };
}

const echo: ServerTool<{ say: string }> = { name: 'echo', description: 'Echoes.', inputSchema: z.object({ say: z.string() }), execute: (input) => input.say };

/** A raw stream socket recording its events and close code. */
function rawStream(port: number, chatId: string, token: string) {
  const events: ChatStreamEvent[] = [];
  let closeCode: number | undefined;
  const ws = new WebSocket(`ws://127.0.0.1:${port}/api/experimental/chats/${chatId}/stream`, { headers: { 'coder-session-token': token }, perMessageDeflate: false });
  ws.on('message', (data) => events.push(...(JSON.parse(String(data)) as ChatStreamEvent[])));
  ws.on('close', (code) => (closeCode = code));
  ws.on('error', () => {});
  return {
    ws,
    events,
    get closeCode() {
      return closeCode;
    },
  };
}

describe('metrics: GET /metrics counts a known run exactly (issue 34)', () => {
  let replica: RunningChatd;
  let token: string;
  const { model, open } = createModel();
  beforeAll(async () => {
    replica = await startTestReplica(db.url, { models: fixedModels(model), tools: [echo], sender: { coalesceThresholdBytes: 32 * 1024, maxQueuedBytes: 128 * 1024 } });
    ({ token } = await userToken(replica, 'metered'));
  });
  afterAll(async () => {
    await replica?.close();
  });
  const scrape = async () => {
    const res = await fetch(`${replica.url}/metrics`);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    return res.text();
  };

  it('a run with a retry, a server tool and two steps, then a client cut too_slow: each histogram count and counter', async () => {
    const api = apiClient(replica.url, token);
    const m = replica.server.metrics;

    // 1. The tool chat: one run, two model steps (the first retried once), one tool call, 1 + 1 + REPLY_DELTAS parts.
    const created = await api('POST', '', { content: [{ type: 'text', text: 'tools' }] });
    expect(created.status).toBe(201);
    const chatId: string = created.body.id;
    const client = rawStream(replica.port, chatId, token);
    await waitFor(() => client.events.some((e) => e.type === 'status'), { what: 'the snapshot' });
    await waitFor(() => m.get('chatd_retries_total', { kind: 'overloaded' }) === 1, { what: 'the retry' });
    open('tools');
    await waitFor(() => m.get('chatd_runs_total', { outcome: 'finished' }) === 1, { what: 'the run to finish', timeoutMs: 15_000 });
    const parts = 1 + 1 + REPLY_DELTAS;
    await waitFor(() => client.events.filter((e) => e.type === 'message_part').length === parts, { what: 'every part at the client' });

    let text = await scrape();
    expect(sample(text, 'chatd_runs_total', { outcome: 'finished' })).toBe(1);
    expect(sample(text, 'chatd_retries_total', { kind: 'overloaded' })).toBe(1);
    expect(sample(text, 'chatd_run_duration_seconds_count', { outcome: 'finished' })).toBe(1);
    expect(sample(text, 'chatd_step_duration_seconds_count')).toBe(2);
    expect(sample(text, 'chatd_tool_duration_seconds_count', { tool: 'echo' })).toBe(1);
    expect(sample(text, 'chatd_time_to_first_token_seconds_count')).toBe(1);
    // The first token came after the retry's backoff, and so did the end of the retried step.
    expect(sample(text, 'chatd_time_to_first_token_seconds_sum')).toBeGreaterThanOrEqual(RETRY_BASE_DELAY_MS / 1000);
    expect(sample(text, 'chatd_time_to_first_token_seconds_bucket', { le: '1' })).toBe(0);
    expect(sample(text, 'chatd_step_duration_seconds_sum')).toBeGreaterThanOrEqual(RETRY_BASE_DELAY_MS / 1000);
    expect(sample(text, 'chatd_part_gap_seconds_count')).toBe(parts - 1);
    // Every part reached the one client live, each observed once when its frame went to the socket.
    expect(sample(text, 'chatd_part_lag_seconds_count', { path: 'local' })).toBe(parts);
    expect(sample(text, 'chatd_part_lag_seconds_count', { path: 'relay' })).toBe(0);
    expect(sample(text, 'chatd_live_runs')).toBe(0);
    expect(sample(text, 'chatd_pending_chats')).toBe(0);
    expect(sample(text, 'chatd_stale_recoveries_total')).toBe(0);
    expect(sample(text, 'chatd_discontinuities_total', { reason: 'too_slow' })).toBe(0);
    expect(sample(text, 'chatd_stream_slow_clients_cut_total')).toBe(0);
    expect(sample(text, 'chatd_ws_connections', { kind: 'stream' })).toBe(1);
    // The same counts through the object the server reports into.
    expect(m.count('chatd_part_lag_seconds', { path: 'local' })).toBe(parts);
    expect(m.count('chatd_step_duration_seconds')).toBe(2);
    client.ws.close();

    // 2. The too-slow chat: one more run and step, UNMERGEABLE_DELTAS parts, and its only client (behind a stalled
    // link) cut with too_slow.
    const slowChat = await api('POST', '', { content: [{ type: 'text', text: 'bulk' }] });
    const proxy = await createTcpProxy({ port: replica.port });
    try {
      const slow = rawStream(proxy.port, slowChat.body.id, token);
      await waitFor(() => slow.events.some((e) => e.type === 'status'), { what: 'the slow snapshot' });
      proxy.stall();
      open('bulk');
      await waitFor(() => m.get('chatd_runs_total', { outcome: 'finished' }) === 2, { what: 'the bulk run to finish', timeoutMs: 30_000 });
      await waitFor(() => m.get('chatd_stream_slow_clients_cut_total') === 1, { what: 'the cut', timeoutMs: 30_000 });
      proxy.resume();
      await waitFor(() => slow.closeCode !== undefined, { what: 'the slow socket to close' });
      expect(slow.closeCode).toBe(1008);
      expect(slow.events.filter((e) => e.type === 'discontinuity')).toMatchObject([{ discontinuity: { reason: 'too_slow' } }]);
    } finally {
      await proxy.close();
    }

    text = await scrape();
    expect(sample(text, 'chatd_runs_total', { outcome: 'finished' })).toBe(2);
    expect(sample(text, 'chatd_run_duration_seconds_count', { outcome: 'finished' })).toBe(2);
    expect(sample(text, 'chatd_retries_total', { kind: 'overloaded' })).toBe(1);
    expect(sample(text, 'chatd_step_duration_seconds_count')).toBe(3);
    expect(sample(text, 'chatd_tool_duration_seconds_count', { tool: 'echo' })).toBe(1);
    expect(sample(text, 'chatd_time_to_first_token_seconds_count')).toBe(2);
    expect(sample(text, 'chatd_part_gap_seconds_count')).toBe(parts - 1 + UNMERGEABLE_DELTAS - 1);
    expect(sample(text, 'chatd_stream_slow_clients_cut_total')).toBe(1);
    expect(sample(text, 'chatd_discontinuities_total', { reason: 'too_slow' })).toBe(1);
    expect(sample(text, 'chatd_discontinuities_total', { reason: 'run_lost' })).toBe(0);
    // Nothing of an unmergeable backlog is coalesced; the cut client's queue is dropped, never sent.
    expect(sample(text, 'chatd_stream_parts_coalesced_total')).toBe(0);
    expect(sample(text, 'chatd_stream_parts_dropped_total')).toBeGreaterThan(0);
    expect(sample(text, 'chatd_live_runs')).toBe(0);

    // Catch-up reads: one timing per database read the subscribers ran.
    expect(sample(text, 'chatd_catch_up_query_seconds_count')).toBe(sample(text, 'chatd_catch_up_queries_total'));
    expect(sample(text, 'chatd_catch_up_queries_total')).toBeGreaterThan(0);
    // The NOTIFY probe went out with the database probes of the scrapes and came back over LISTEN.
    await waitFor(() => m.count('chatd_notify_lag_seconds') > 0, { what: 'a NOTIFY probe round trip' });
    // Process metrics are on.
    expect(sample(text, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
  });
});
