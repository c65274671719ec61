// The benches' language model answers chatd's own task requests (a title, a compaction summary) with one short
// delta instead of replaying the chat's load: the title request's user message is the chat's first message (the
// load spec), and replaying it doubled the worker's work per chat in every bench.
import { COMPACTION_SYSTEM_PROMPT, TITLE_SYSTEM_PROMPT } from '@chatd/oss';
import { describe, expect, it } from 'vitest';
import { benchLanguageModel } from '../bench/lib/bench-model.mjs';

type Part = { type: string; delta?: string };

async function deltas(system: string | undefined, user: string): Promise<string[]> {
  let runs = 0;
  const model = benchLanguageModel('t', async function* ({ prompt }: { prompt: string }) {
    runs++;
    for (const w of prompt.split(' ')) yield w;
  });
  const prompt = [...(system ? [{ role: 'system', content: system }] : []), { role: 'user', content: [{ type: 'text', text: user }] }];
  const { stream } = await model.doStream({ prompt });
  const out: string[] = [];
  for await (const p of stream as AsyncIterable<Part>) if (p.type === 'text-delta') out.push(p.delta!);
  expect(runs).toBe(system ? 0 : 1);
  return out;
}

describe('bench model', () => {
  it('streams a chat turn from its load generator', async () => {
    expect(await deltas(undefined, 'a b c')).toEqual(['a', 'b', 'c']);
  });

  it('answers a title request with one short delta, without running the load', async () => {
    expect(await deltas(TITLE_SYSTEM_PROMPT, 'a b c')).toEqual(['Bench chat']);
  });

  it('answers a compaction request with one short delta, without running the load', async () => {
    expect(await deltas(COMPACTION_SYSTEM_PROMPT, 'a b c')).toEqual(['Bench summary']);
  });
});
