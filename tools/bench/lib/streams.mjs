// Runs one load shape against one contender: `chats` streams of `count` parts at `rate` parts/s, one
// subscriber each on the edge process, all starting at the same wall time; returns delivery figures.
import fs from 'node:fs';
import { percentile, sleep, wall } from './common.mjs';
import { Tally } from './contenders.mjs';

/** CPU time (user + system) of a child process in microseconds, from /proc (Linux; NaN elsewhere). */
function childCpuUs(pid) {
  try {
    // Fields 14 and 15 (utime, stime) in clock ticks; the command name (field 2) may hold spaces, so split after ')'.
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1e6) / 100;
  } catch {
    return NaN;
  }
}
/** CPU of each of the contender's processes and of this (client) process, in microseconds. */
function cpuSnapshot(contender) {
  const out = {};
  for (const [k, p] of Object.entries(contender.procs ?? {})) out[k] = childCpuUs(p.child.pid);
  const own = process.cpuUsage();
  out.client = own.user + own.system;
  return out;
}

/**
 * @returns {{chats, delivered, expected, missing, dups, rate, p50, p99, max, lateStart: boolean, timedOut: boolean, handles, tallies}}
 */
let batchSeq = 0;
export async function runStreams(contender, { chats, rate, count, leadMs = 300, graceMs = 10_000, openConcurrency = 10, keepOpen = false, onOpened }) {
  const latencies = [];
  const tallies = [];
  const handles = [];
  const batch = `b${process.pid}_${++batchSeq}`;
  const openedAt = wall();
  let next = 0;
  const opener = async () => {
    while (next < chats) {
      next++;
      const tally = new Tally(count, latencies);
      tallies.push(tally);
      handles.push(await contender.open({ rate, count, batch }, tally));
    }
  };
  await Promise.all(Array.from({ length: Math.min(openConcurrency, chats) }, opener));
  // Every stream waits at its start gate until all subscribers are in; then they all start together.
  const openMs = wall() - openedAt;
  const startAt = wall() + leadMs;
  const cpuBefore = cpuSnapshot(contender);
  await contender.go(batch, startAt);
  const lateStart = wall() > startAt;
  onOpened?.(handles, startAt);
  const expectedEnd = startAt + (rate > 0 ? (count / rate) * 1000 : 0);
  const timeout = sleep(Math.max(0, expectedEnd - wall()) + graceMs).then(() => 'timeout');
  const outcome = await Promise.race([Promise.all(tallies.map((t) => t.done)), timeout]);
  const cpuAfter = cpuSnapshot(contender);
  if (!keepOpen) for (const h of handles) h.close();
  const delivered = tallies.reduce((s, t) => s + t.unique, 0);
  const dups = tallies.reduce((s, t) => s + t.dups, 0);
  const firsts = tallies.filter((t) => t.first).map((t) => t.first);
  const first = firsts.length ? Math.min(...firsts) : NaN;
  const last = Math.max(0, ...tallies.map((t) => t.last));
  latencies.sort((a, b) => a - b);
  // CPU per delivered part of every process (A, B, the client) over the streaming: the figure host load moves least.
  const cpuUsPerPart = Object.fromEntries(Object.keys(cpuAfter).map((k) => [k, (cpuAfter[k] - cpuBefore[k]) / Math.max(1, delivered)]));
  return {
    cpuUsPerPart,
    chats,
    expected: chats * count,
    delivered,
    missing: chats * count - delivered,
    gaps: tallies.reduce((s, t) => s + t.gaps, 0),
    dups,
    // Parts per second at the clients, from the first arrival to the last (the first part of each stream opens the window).
    rate: (delivered - Math.min(chats, delivered)) / ((last - first) / 1000),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies.at(-1),
    lateStart,
    openMs,
    timedOut: outcome === 'timeout',
    handles,
    tallies,
  };
}
