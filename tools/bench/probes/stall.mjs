// Probe (issue 36), preloaded into bench processes: reports every GC pause over 2 ms and every event-loop stall over
// 6 ms (a 1 ms timer's lateness) on stderr with its wall time, to line late parts up with their cause:
//   BENCH_NODE_ARGS="--import ./tools/bench/probes/stall.mjs" node --import ./tools/bench/probes/stall.mjs <bench or probe>
import { PerformanceObserver, performance, constants } from 'node:perf_hooks';
const wall = () => performance.timeOrigin + performance.now();
const tag = `${process.pid} ${process.argv.slice(2, 3).join(' ') || 'main'}`;
const kinds = { [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major', [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor', [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incr', [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb' };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if (e.duration > 2) process.stderr.write(`STALL ${tag} gc ${kinds[e.detail?.kind] ?? e.detail?.kind} ${e.duration.toFixed(1)} ms at ${((performance.timeOrigin + e.startTime) % 100000).toFixed(0)}\n`);
}).observe({ entryTypes: ['gc'] });
let last = wall();
setInterval(() => {
  const now = wall();
  if (now - last > 6) process.stderr.write(`STALL ${tag} loop ${(now - last).toFixed(1)} ms ending at ${(now % 100000).toFixed(0)}\n`);
  last = now;
}, 1).unref();
