#!/usr/bin/env node
// Runs one bench against another build of chatd in the same session: the build of a git ref (`--compare-ref`,
// lib/base-build.mjs) and this tree's, alternated round by round (base-new, then new-base, ...) so that drift in
// the machine's load falls on both. Every markdown table row the bench prints is collected; the figures of each
// cell (numbers, `p50 / p99` pairs) are reduced to their median over the rounds and printed side by side with
// the ratio new / base. Only same-run ratios mean anything on a shared machine.
//
//   node tools/bench/compare.mjs --compare-ref <git-ref> [--rounds 3] [--out file.md] <bench.mjs> [bench args...]
//
// The bench must load chatd through BENCH_CHATD_OSS / BENCH_CHATD_ENTERPRISE (lib/child.mjs does, and
// lib/chatd-oss-results.mjs loadChatd for the in-process benches).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { buildRef } from './lib/base-build.mjs';
import { load, median } from './lib/common.mjs';

const argv = process.argv.slice(2);
const opts = { rounds: 3, ref: undefined, out: undefined };
while (argv[0]?.startsWith('--')) {
  const name = argv.shift();
  const value = argv.shift();
  if (name === '--compare-ref') opts.ref = value;
  else if (name === '--rounds') opts.rounds = Number(value);
  else if (name === '--out') opts.out = value;
  else throw new Error(`unknown option ${name}`);
}
const [bench, ...benchArgs] = argv;
if (!opts.ref || !bench || !(opts.rounds >= 1)) {
  console.error('usage: compare.mjs --compare-ref <git-ref> [--rounds 3] [--out file.md] <bench.mjs> [bench args...]');
  process.exit(2);
}

const base = buildRef(opts.ref);
console.error(`compare: base ${base.ref.slice(0, 12)} built`);

/** Runs the bench once with `env` added; resolves with its stdout (stderr passes through). */
function run(env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.resolve(bench), ...benchArgs], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => (out += d));
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${bench} exited with ${code}`))));
  });
}

/** The numbers of every table cell: `${heading} | ${row} | ${column}` -> numbers (one per figure in the cell). */
function figures(stdout) {
  const cells = new Map();
  let heading = '';
  let header;
  for (const line of stdout.split('\n')) {
    if (line.startsWith('#')) {
      heading = line.replace(/^#+\s*/, '').replace(/\s*\(\d{4}-\d\d-\d\d.*$/, '');
      header = undefined;
      continue;
    }
    if (!line.startsWith('|')) {
      header = undefined;
      continue;
    }
    const row = line.split('|').slice(1, -1).map((c) => c.trim().replace(/\*\*/g, ''));
    if (row.every((c) => /^:?-+:?$/.test(c))) continue;
    if (!header) {
      header = row;
      continue;
    }
    for (let i = 1; i < row.length; i++) {
      const nums = [...row[i].replaceAll(',', '').matchAll(/-?\d+(?:\.\d+)?/g)].map((m) => Number(m[0]));
      if (nums.length) cells.set(`${heading} | ${row[0]} | ${header[i] ?? i}`, nums);
    }
  }
  return cells;
}

const variants = { base: base.env, new: {} };
const samples = { base: [], new: [] };
for (let r = 0; r < opts.rounds; r++) {
  for (const v of r % 2 === 0 ? ['base', 'new'] : ['new', 'base']) {
    console.error(`compare: round ${r + 1}/${opts.rounds} ${v} (load ${load()})`);
    samples[v].push(figures(await run(variants[v])));
  }
}

const keys = [...new Set(samples.new.flatMap((m) => [...m.keys()]))];
const med = (v, key, j) => {
  const xs = samples[v].map((m) => m.get(key)?.[j]).filter((x) => x !== undefined);
  return xs.length ? median(xs) : undefined;
};
const num = (x) => (x === undefined ? '-' : Math.abs(x) >= 100 ? Math.round(x).toLocaleString('en-US') : String(Number(x.toFixed(2))));
const lines = [
  `Compared with ${opts.ref} (${base.ref.slice(0, 12)}): ${path.basename(bench)} ${benchArgs.join(' ')}, median of ${opts.rounds} alternating rounds; load at the end ${load()}.`,
  '',
  '| table / row / column | base | new | new / base | base rounds | new rounds |',
  '|---|---:|---:|---:|---|---|',
];
for (const key of keys) {
  const n = samples.new.find((m) => m.has(key)).get(key).length;
  const b = Array.from({ length: n }, (_, j) => med('base', key, j));
  const w = Array.from({ length: n }, (_, j) => med('new', key, j));
  const ratio = w.map((x, j) => (x !== undefined && b[j] ? (x / b[j]).toFixed(2) : '-'));
  const rounds = (v) => samples[v].map((m) => (m.get(key) ?? []).map(num).join(' / ')).join('; ');
  lines.push(`| ${key} | ${b.map(num).join(' / ')} | ${w.map(num).join(' / ')} | ${ratio.join(' / ')} | ${rounds('base')} | ${rounds('new')} |`);
}
const text = lines.join('\n');
console.log(text);
if (opts.out) fs.writeFileSync(opts.out, `${text}\n`);
