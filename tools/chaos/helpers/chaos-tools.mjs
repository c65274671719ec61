// Server tools of the agent-steps chaos scenario, loaded by each replica with `chatd serve --tools`. Every
// execution appends `<tool> <toolCallId> <pid>` to $CHAOS_TOOL_LOG, so the test counts executions per call across
// processes. `slow_*` tools announce themselves, then wait CHAOS_SLOW_TOOL_MS (the test kills their replica
// meanwhile); `slow_once` is declared not idempotent.
import fs from 'node:fs';

const log = process.env.CHAOS_TOOL_LOG;
const slowMs = Number(process.env.CHAOS_SLOW_TOOL_MS ?? '4000');
const input = { type: 'object', properties: { note: { type: 'string' } }, additionalProperties: false };

function record(name, ctx) {
  if (log) fs.appendFileSync(log, `${name} ${ctx.toolCallId} ${process.pid}\n`);
}

function pause(ms, signal) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason ?? new Error('aborted'));
    }, { once: true });
  });
}

export default [
  {
    name: 'fast_tool',
    description: 'Answers at once.',
    inputSchema: input,
    execute(_args, ctx) {
      record('fast_tool', ctx);
      return { fast: true };
    },
  },
  {
    name: 'slow_idem',
    description: 'Takes a while; safe to run again.',
    inputSchema: input,
    async execute(_args, ctx) {
      record('slow_idem', ctx);
      await pause(slowMs, ctx.signal);
      return { slow: 'idempotent' };
    },
  },
  {
    name: 'slow_once',
    description: 'Takes a while; must not run twice.',
    inputSchema: input,
    idempotent: false,
    async execute(_args, ctx) {
      record('slow_once', ctx);
      await pause(slowMs, ctx.signal);
      return { slow: 'once' };
    },
  },
];
