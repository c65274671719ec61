// The cut scenario of the transport tests: turns of a real chat driven through ChatdChatTransport and read with the
// AI SDK's own readUIMessageStream, cut at seeded random points, either by aborting the stream and calling
// reconnectToStream at once (a reload, or StrictMode's second mount) or by dropping every stream socket (the
// client's stream reconnects with its cursor inside the same UI stream). Each turn's assembled message must equal
// the one loadUIMessages builds from the stored history, and every message seen at a cut must be a prefix of it.
import { seededRandom } from '@chatd/testkit';
import { readUIMessageStream, type UIMessage, type UIMessageChunk } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatdChatTransport, createChat, loadUIMessages, turnMessageId } from '../../src/index.js';
import { startCluster, useChatdDatabase, type Cluster } from './cluster.js';

/** Prompts the turns cycle through: plain replies and the demo tools (a tool step, its result, a text step). */
const PROMPTS = ['tell me about streams', 'call add {"numbers":[1,2,3]}', 'and more words please', 'call get_time'];
/** A cut comes after 1 to this many message updates of the stream being read. */
const MAX_UPDATES_BETWEEN_CUTS = 5;

export type CutOutcome = { turns: number; cuts: number; aborts: number; drops: number; replays: number; endedBeforeResume: number };

let sent = 0;
const userMessage = (text: string): UIMessage => ({ id: `u-${++sent}`, role: 'user', parts: [{ type: 'text', text }] });
const plain = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** Each part of `partial` is the start of the same part of `full`. */
function expectPrefix(partial: UIMessage, full: UIMessage): void {
  const context = `partial ${JSON.stringify(partial)}\nstored ${JSON.stringify(full)}`;
  expect(partial.id, context).toBe(full.id);
  expect(partial.parts.length, context).toBeLessThanOrEqual(full.parts.length);
  partial.parts.forEach((p, i) => {
    const f = full.parts[i]!;
    expect(p.type, context).toBe(f.type);
    if ((p.type === 'text' || p.type === 'reasoning') && (f.type === 'text' || f.type === 'reasoning')) expect(f.text.startsWith(p.text), context).toBe(true);
    if ('toolCallId' in p && 'toolCallId' in f) expect(p.toolCallId, context).toBe(f.toolCallId);
  });
}

export async function runCutScenario(cluster: Cluster, transportKind: 'sse' | 'websocket', seed: number, totalCuts: number): Promise<CutOutcome> {
  const rand = seededRandom(seed);
  const route = seededRandom(seed + 1);
  // Most connections go to the generating replica (parts and messages), the rest to the API-only one (messages).
  const client = cluster.client({ transport: transportKind, pick: () => (route() < 0.7 ? 0 : 1) });
  const transport = new ChatdChatTransport({ client });
  const out: CutOutcome = { turns: 0, cuts: 0, aborts: 0, drops: 0, replays: 0, endedBeforeResume: 0 };
  const chat = await createChat(client, { content: PROMPTS[0]! });
  const nextCut = () => 1 + Math.floor(rand() * MAX_UPDATES_BETWEEN_CUTS);

  while (out.cuts < totalCuts) {
    let ac = new AbortController();
    // The first turn started with the chat: join it as a page load does; later turns are sent.
    let stream: ReadableStream<UIMessageChunk> | null =
      out.turns === 0
        ? await transport.reconnectToStream({ chatId: chat.id, abortSignal: ac.signal })
        : await transport.sendMessages({ trigger: 'submit-message', chatId: chat.id, messageId: undefined, messages: [userMessage(PROMPTS[out.turns % PROMPTS.length]!)], abortSignal: ac.signal });
    out.turns++;
    const partials: UIMessage[] = [];
    /** The chunks of each stream of the turn, for a failure's message. */
    const trace: UIMessageChunk[][] = [];
    let final: UIMessage | undefined;
    while (stream) {
      let cutAt = nextCut();
      let updates = 0;
      let last: UIMessage | undefined;
      let resumed: Promise<ReadableStream<UIMessageChunk> | null> | undefined;
      const seen: UIMessageChunk[] = [];
      trace.push(seen);
      const recorded = stream.pipeThrough(
        new TransformStream<UIMessageChunk, UIMessageChunk>({
          transform(chunk, c) {
            seen.push(chunk);
            c.enqueue(chunk);
          },
        }),
      );
      for await (const m of readUIMessageStream({ stream: recorded, terminateOnError: true })) {
        last = m;
        updates++;
        if (updates < cutAt || out.cuts >= totalCuts) continue;
        out.cuts++;
        partials.push(structuredClone(m));
        if (rand() < 0.5) {
          out.drops++;
          cluster.dropStreams();
          cutAt = updates + nextCut();
          continue;
        }
        // Abort, and resume in the same turn of the event loop (as the AI SDK does for a replaced resume).
        out.aborts++;
        ac.abort();
        ac = new AbortController();
        resumed = transport.reconnectToStream({ chatId: chat.id, abortSignal: ac.signal });
        break;
      }
      if (!resumed) {
        final = last;
        break;
      }
      stream = await resumed;
      if (stream) out.replays++;
      else out.endedBeforeResume++;
    }
    const stored = (await loadUIMessages(client, chat.id)).at(-1)!;
    expect(stored.role).toBe('assistant');
    const userId = stored.id.replace('chatd-turn-', '');
    expect(stored.id).toBe(turnMessageId(userId));
    if (final) expect(plain(final), `chunks of the turn's streams: ${JSON.stringify(trace)}`).toEqual(plain(stored));
    for (const p of partials) expectPrefix(p, stored);
  }
  return out;
}

/**
 * The cut suite of one stream transport: two real replicas (one without a worker), `cuts` seeded cuts; every turn's
 * assembled message equals the stored one, and no abort interrupted a run (each was replaced by a newer stream at once).
 */
export function describeCuts(transport: 'sse' | 'websocket', seed: number, cuts = 200): void {
  const db = useChatdDatabase();
  describe(`transport over ${transport === 'sse' ? 'SSE' : 'WebSocket'}, cut at random points`, () => {
    let cluster: Cluster;
    beforeAll(async () => {
      cluster = await startCluster(db.url);
    });
    afterAll(async () => {
      await cluster?.close();
    });

    it(`assembles the stored message every time across ${cuts} cuts (seed ${seed})`, async () => {
      const out = await runCutScenario(cluster, transport, seed, cuts);
      expect(out.cuts).toBe(cuts);
      expect(out.aborts + out.drops).toBe(cuts);
      expect(out.replays).toBeGreaterThan(0);
      expect(cluster.requests.filter((r) => r.endsWith('/interrupt'))).toEqual([]);
    }, 120_000);
  });
}
