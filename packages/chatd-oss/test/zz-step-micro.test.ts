import { createHook } from 'node:async_hooks';
import { it } from 'vitest';
import { createRealClock } from '@chatd/clock';
import { streamModelStep } from '../src/model/stream-model-step.js';
import { traceModelCall } from '../src/telemetry/model-spans.js';

function model(n: number) {
  return {
    specificationVersion: 'v3', provider: 'b', modelId: 'b', supportedUrls: {},
    async doGenerate() { throw new Error('x'); },
    async doStream() {
      let i = 0;
      async function* gen() { for (; i < n; ) { i++; yield 'x'.repeat(111); if (i % 200 === 0) await new Promise((r) => setImmediate(r)); } }
      const it = gen();
      const stream = new ReadableStream({
        async pull(c) { const r = await it.next(); if (!r.done) { c.enqueue({ type: 'text-delta', id: 'b', delta: r.value }); return; } c.enqueue({ type: 'finish', finishReason: { unified: 'stop', raw: 'stop' }, usage: { inputTokens: { total: 1 }, outputTokens: { total: n } } }); c.close(); },
      }, { highWaterMark: 0 });
      return { stream };
    },
  } as never;
}

it('micro', async () => {
  for (const round of [0, 1, 2]) {
    const n = 50_000;
    let promises = 0;
    const hook = createHook({ init: (_id, type) => { if (type === 'PROMISE') promises++; } });
    const ac = new AbortController();
    const t0 = process.cpuUsage();
    if (round === 2) hook.enable();
    let got = 0;
    const step = streamModelStep({ model: model(n), provider: 'b', call: { prompt: [] } as never, signal: ac.signal, clock: createRealClock(), idleTimeoutMs: 300_000 });
    for await (const ev of traceModelCall({ model: { modelId: 'b', provider: 'b' }, provider: 'b' } as never, step)) if (ev.type === 'text-delta') got++;
    hook.disable();
    const c = process.cpuUsage(t0);
    console.log(`round ${round}: ${got} parts, ${((c.user + c.system) / n).toFixed(2)} us/part${round === 2 ? `, promises/part ${(promises / n).toFixed(2)}` : ''}`);
  }
}, 60_000);
