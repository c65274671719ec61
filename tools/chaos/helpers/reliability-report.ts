// Writes RELIABILITY.md at the repository root from one chaos run: what each fault was, how long the
// cluster took to recover and how that was measured, and the handle and memory readings before and after.
// It overwrites the file with the latest run; it does not keep a history.
import fs from 'node:fs';
import os from 'node:os';
import type { Recovery } from './chaos-checks.js';

const blockRe = /<!-- block:([a-z-]+) -->[\s\S]*?<!-- \/block:\1 -->\n?/g;

/** The marked blocks other suites wrote into `file` (kept when the main report rewrites it). */
function blocksOf(file: string): string[] {
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  return [...text.matchAll(blockRe)].map((m) => m[0].endsWith('\n') ? m[0] : `${m[0]}\n`);
}

/**
 * Writes (or replaces) the block `name` of `file`: a section another chaos file owns, which the main report
 * keeps when it rewrites the rest.
 */
export function writeReliabilityBlock(file: string, name: string, markdown: string): void {
  const block = `<!-- block:${name} -->\n${markdown.trimEnd()}\n<!-- /block:${name} -->\n`;
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Reliability\n';
  const start = text.indexOf(`<!-- block:${name} -->`);
  const endMark = `<!-- /block:${name} -->`;
  const end = text.indexOf(endMark);
  const next = start >= 0 && end > start ? `${text.slice(0, start)}${block}${text.slice(end + endMark.length).replace(/^\n/, '')}` : `${text.trimEnd()}\n\n${block}`;
  fs.writeFileSync(file, next);
}

/** Renders and writes the report (keeping the blocks other chaos files wrote). */
export function writeReliabilityReport(file: string, recoveries: Recovery[], resourceLines: string[], totalMs: number, lateParts: string[]): void {
  const kept = blocksOf(file);
  const rows = recoveries.map((r) => `| ${r.scenario} | ${r.fault} | ${r.recoveryMs} | ${r.measure} | ${r.notes || ''} |`);
  const text = `# Reliability

Results of the chaos suite (\`npm run test:chaos\`, \`tools/chaos/\`), rewritten by every run. It starts real
processes of the built packages: an embedded PostgreSQL, two generating replicas of \`chatd-enterprise serve\` whose
relay addresses go through fault-injection TCP proxies, and one API-only replica (\`--no-worker\`) that clients
read through the relay. Timings are short on purpose: heartbeat 500 ms, stale after 3 s, acquire every 250 ms,
demo replies of 60 tokens at 40 tokens/s.

For every fault, every follower (a strict stream client that reconnects with the cursor and dedupes nothing)
must end with each durable message exactly once, in order, with each reply's streamed text equal to its
message (or a \`discontinuity\` followed by the resync), every chat must rest (\`waiting\` or \`error\`), and each
surviving replica's open file descriptors must return to their count before the fault and its resident memory
must not grow by more than 20%. The slow-client scenario runs on a replica and database of its own whose model is
a local OpenAI-compatible stand-in streaming a 3.8 MiB reply (replicas take their model from the environment);
its memory baseline is the high-water mark of two warm-up rounds, since such replies swing the heap by tens of MiB.
Every replica also answers hostile request targets (\`GET //%/\`) with a 400 and stays up.

## Last run

${new Date().toISOString()} on ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), Node ${process.version}; suite ${(totalMs / 1000).toFixed(1)} s.

| scenario | fault | recovery (ms) | measured as | notes |
|---|---|---:|---|---|
${rows.join('\n')}

## Handles and memory (idle before the fault -> idle after recovery)

${resourceLines.map((l) => `- ${l}`).join('\n')}

## Relayed parts after their run's message

The durable message of a run is read from the database after its NOTIFY, which can overtake the relay socket that
still carries the run's last parts. The subscriber drops relayed parts of a run whose message it has sent, so a
follower never gets text twice; every follower checks it (a part after its run's message fails the suite). Seen in
this run: ${lateParts.length === 0 ? 'none' : lateParts.join(', ')}.
${kept.length > 0 ? `\n${kept.join('\n')}` : ''}`;
  fs.writeFileSync(file, text);
}
