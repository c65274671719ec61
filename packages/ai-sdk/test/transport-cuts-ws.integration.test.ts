// ChatdChatTransport over WebSocket against two real replicas (one without a worker), cut at 200 seeded random points:
// every turn's UI message, assembled by the AI SDK's readUIMessageStream, equals the stored one (loadUIMessages).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, useChatdDatabase, type Cluster } from './helpers/cluster.js';
import { runCutScenario } from './helpers/cut-scenario.js';

const db = useChatdDatabase();
const SEED = 3102;

describe('transport over WebSocket, cut at random points', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster(db.url);
  });
  afterAll(async () => {
    await cluster?.close();
  });

  it(`assembles the stored message every time across 200 cuts (seed ${SEED})`, async () => {
    const out = await runCutScenario(cluster, 'websocket', SEED, 200);
    expect(out.cuts).toBe(200);
    expect(out.aborts + out.drops).toBe(200);
    expect(out.replays).toBeGreaterThan(0);
    // Every abort was replaced by a newer stream of the chat at once: none interrupted the run.
    expect(cluster.requests.filter((r) => r.endsWith('/interrupt'))).toEqual([]);
  }, 120_000);
});
