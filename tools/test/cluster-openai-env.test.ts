// A whole-product test of issue 25: a fresh `npm start` cluster with OPENAI_BASE_URL pointing at a local
// stand-in of OpenAI's chat completions (streamed as SSE) gives the database an `openai-compatible` default
// model and streams the stand-in's reply through the cluster. No network: the stand-in listens on port 0.
// The stand-in here is minimal on purpose (h25-port brings the full ones to the testkit); until that branch
// lands the reply goes through today's hand-written client, which speaks the same wire, so the test holds.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createChatClient } from '@chatd/client';
import type { ChatStreamEvent } from '@chatd/protocol';
import { waitFor } from '@chatd/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from './helpers/cluster.js';

const MODEL = 'stand-in-model-1';
const WORDS = ['Hello', ' from', ' the', ' chat', '-completions', ' stand-in', '.'];

type SeenRequest = { path: string; authorization: string | undefined; body: { model?: string; stream?: boolean; messages?: { role: string; content: unknown }[] } };
const requests: SeenRequest[] = [];
let standIn: http.Server;
let baseUrl: string;
let cluster: Cluster;

/** One `chat.completion.chunk` SSE event. */
const chunk = (delta: Record<string, unknown>, finish: string | null = null, usage?: Record<string, number>) =>
  `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: MODEL, choices: [{ index: 0, delta, finish_reason: finish }], ...(usage ? { usage } : {}) })}\n\n`;

beforeAll(async () => {
  standIn = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      let body: SeenRequest['body'] = {};
      try {
        body = JSON.parse(raw);
      } catch {
        // Recorded as empty: the assertions below then fail with what was seen.
      }
      requests.push({ path: req.url ?? '', authorization: req.headers.authorization, body });
      if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"not found"}}');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write(chunk({ role: 'assistant', content: '' }));
      for (const w of WORDS) res.write(chunk({ content: w }));
      res.write(chunk({}, 'stop', { prompt_tokens: 5, completion_tokens: WORDS.length, total_tokens: 5 + WORDS.length }));
      res.end('data: [DONE]\n\n');
    });
  });
  await new Promise<void>((resolve) => standIn.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(standIn.address() as AddressInfo).port}/v1`;
  cluster = await startCluster(1, { OPENAI_BASE_URL: baseUrl, CHATD_MODEL: MODEL, OPENAI_API_KEY: '', ANTHROPIC_API_KEY: '', CHATD_MODEL_PROVIDER: '' });
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
  await new Promise<void>((resolve) => (standIn ? standIn.close(() => resolve()) : resolve()));
});

describe('npm start with OPENAI_BASE_URL', () => {
  it('names the openai-compatible default model in its banner and in GET /model-configs', async () => {
    // The launcher prints its banner after it writes cluster.json (what startCluster waits for): wait for it too.
    const banner = `default model: openai-compatible/${MODEL} (openai-compatible)`;
    await waitFor(() => cluster.output().includes(banner), { what: 'the launcher banner', timeoutMs: 60_000, intervalMs: 50 }).catch(() => undefined);
    expect(cluster.output()).toContain(banner);
    const c = cluster.read();
    const res = await fetch(`${c.replicas[0]!.url}/api/experimental/chats/model-configs`, { headers: { 'coder-session-token': c.token } });
    const configs = (await res.json()) as { provider: string; model: string; is_default: boolean; call_options: unknown }[];
    expect(configs).toEqual([expect.objectContaining({ provider: 'openai-compatible', model: MODEL, is_default: true, call_options: {} })]);
  });

  it("streams the stand-in's reply through the cluster, token by token, then as the durable message", async () => {
    const c = cluster.read();
    const client = createChatClient({ baseUrl: c.replicas[0]!.url, token: c.token });
    const chat = await client.create('say hello, stand-in');
    const controller = new AbortController();
    let streamed = '';
    let final: string | undefined;
    let sawRunning = false;
    for await (const e of client.stream(chat.id, { signal: controller.signal }) as AsyncIterable<ChatStreamEvent>) {
      if (e.type === 'message_part' && e.message_part.part.type === 'text') streamed += e.message_part.part.text ?? '';
      if (e.type === 'message' && e.message.role === 'assistant') final = (e.message.content ?? []).map((p) => p.text ?? '').join('');
      if (e.type === 'status' && e.status.status === 'running') sawRunning = true;
      if (e.type === 'status' && (e.status.status === 'waiting' || e.status.status === 'error') && (sawRunning || final !== undefined)) controller.abort();
    }
    expect((await client.get(chat.id)).last_error).toBeNull();
    expect(final).toBe(WORDS.join(''));
    // Parts seen are the reply or a suffix of it (the stream may join mid-reply), never anything else.
    expect(final!.endsWith(streamed)).toBe(true);
    const call = requests.find((r) => r.path === '/v1/chat/completions');
    expect(call?.body).toMatchObject({ model: MODEL, stream: true });
    expect(JSON.stringify(call?.body.messages)).toContain('say hello, stand-in');
  });
});
