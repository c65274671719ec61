// The product in one command (issue 14): `npm start`'s launcher brings up a cluster; chats created
// through replica 1 stream completely, exactly once, through every replica; a replica killed with
// SIGKILL mid-reply does not stop a client on another replica from getting the final message, and
// the launcher restarts it; Ctrl-C stops everything.
import fs from 'node:fs';
import { createChatClient } from '@chatd/client';
import type { ChatStreamEvent } from '@chatd/protocol';
import { waitFor } from '@chatd/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alive, startCluster, type Cluster } from './helpers/cluster.js';

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster(2);
}, 180_000);
afterAll(async () => {
  await cluster?.stop();
});

type Seen = { parts: Map<string, number[]>; text: Map<string, string>; messages: number[]; final?: string };

/** Streams a chat until it is waiting after its reply; records parts per run and messages. */
async function follow(baseUrl: string, token: string, chatId: string): Promise<Seen> {
  const client = createChatClient({ baseUrl, token });
  const seen: Seen = { parts: new Map(), text: new Map(), messages: [] };
  const controller = new AbortController();
  let sawRunning = false;
  for await (const e of client.stream(chatId, { signal: controller.signal }) as AsyncIterable<ChatStreamEvent>) {
    if (e.type === 'message_part') {
      const { run_id: runId, seq, part } = e.message_part;
      seen.parts.set(runId, [...(seen.parts.get(runId) ?? []), seq]);
      seen.text.set(runId, (seen.text.get(runId) ?? '') + (part.text ?? ''));
    } else if (e.type === 'message') {
      seen.messages.push(e.message.id);
      if (e.message.role === 'assistant') seen.final = (e.message.content ?? []).map((p) => p.text ?? '').join('');
    } else if (e.type === 'status') {
      if (e.status.status === 'running') sawRunning = true;
      if ((e.status.status === 'waiting' || e.status.status === 'error') && (sawRunning || seen.final !== undefined)) controller.abort();
    }
  }
  return seen;
}

describe('npm start: a local cluster', () => {
  it('writes cluster.json with every replica, a token and the database URL', () => {
    const c = cluster.read();
    expect(c.replicas).toHaveLength(2);
    for (const r of c.replicas) {
      expect(r.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(r.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    }
    expect(c.token).toMatch(/^chatd_/);
    expect(c.database_url).toMatch(/^postgres:\/\//);
  });

  it('chats created through replica 1 stream completely and exactly once through every replica', async () => {
    const c = cluster.read();
    const client = createChatClient({ baseUrl: c.replicas[0]!.url, token: c.token });
    for (const replica of c.replicas) {
      const chat = await client.create(`hello from the test via ${replica.url}`);
      const seen = await follow(replica.url, c.token, chat.id);
      expect(seen.final).toBeTruthy();
      expect(new Set(seen.messages).size).toBe(seen.messages.length);
      for (const [runId, seqs] of seen.parts) {
        expect(new Set(seqs).size, `duplicate parts of ${runId}`).toBe(seqs.length);
        // Parts seen are a contiguous run ending with the reply: their text is a suffix of the final message.
        expect(seen.final!.endsWith(seen.text.get(runId)!)).toBe(true);
      }
    }
  });

  it('a replica killed with SIGKILL mid-reply: the client on the other replica still gets the final message; the launcher restarts it', async () => {
    const c = cluster.read();
    const client = createChatClient({ baseUrl: c.replicas[0]!.url, token: c.token });
    const chat = await client.create('survive a crash please');
    const running = await waitFor(
      async () => {
        const now = await client.get(chat.id);
        return now.status === 'running' && now.worker_id ? now : undefined;
      },
      { what: 'the chat to run', timeoutMs: 20_000, intervalMs: 20 },
    );
    const generating = c.replicas.find((r) => r.id === running.worker_id)!;
    const other = c.replicas.find((r) => r.id !== running.worker_id)!;
    const followed = follow(other.url, c.token, chat.id);
    process.kill(generating.pid, 'SIGKILL');
    const seen = await followed;
    expect(seen.final).toBeTruthy();
    const history = await createChatClient({ baseUrl: other.url, token: c.token }).messages(chat.id);
    expect(history.messages.filter((m) => m.role === 'assistant').length).toBeGreaterThanOrEqual(1);
    expect(alive(generating.pid)).toBe(false);
    await waitFor(() => cluster.read().replicas.length === 2 && !cluster.read().replicas.some((r) => r.pid === generating.pid), { what: 'the launcher to restart the replica', timeoutMs: 60_000 });
    expect(cluster.output()).toMatch(/exited \(SIGKILL\); restarting it/);
  });

  it('Ctrl-C stops every replica and PostgreSQL, and removes cluster.json', async () => {
    const pids = cluster.read().replicas.map((r) => r.pid);
    const code = await cluster.stop();
    expect(code).toBe(0);
    for (const pid of pids) expect(alive(pid)).toBe(false);
    expect(fs.existsSync(cluster.file)).toBe(false);
    expect(cluster.output()).toContain('stopped; nothing left running');
  });
});
