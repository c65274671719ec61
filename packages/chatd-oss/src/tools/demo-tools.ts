// Two harmless server tools for demos and tests (contract.md#demo-tools): `get_time` answers the server's time
// from the injected clock, `add` sums a list of numbers. Registered only when `CHATD_DEMO_TOOLS=1` (`npm start`
// sets it); they touch nothing outside the process, so a model may call them as often as it likes.
import type { Clock } from '@chatd/clock';
import { z } from 'zod';
import type { ServerTool } from './server-tool.js';

/** Name of the demo tool that answers the server's time. */
export const GET_TIME_TOOL = 'get_time';
/** Name of the demo tool that sums numbers. */
export const ADD_TOOL = 'add';

const getTimeInput = z.object({});
const addInput = z.object({ numbers: z.array(z.number().finite()).describe('the numbers to add') });

/** `get_time`: the server's time (from `clock`) as an ISO 8601 string. */
export function createGetTimeTool(clock: Clock): ServerTool<z.infer<typeof getTimeInput>, string> {
  return {
    name: GET_TIME_TOOL,
    description: "The server's current time, as an ISO 8601 string (UTC).",
    inputSchema: getTimeInput,
    execute: () => clock.now().toISOString(),
  };
}

/** `add`: the sum of `numbers` (0 for none). */
export function createAddTool(): ServerTool<z.infer<typeof addInput>, number> {
  return {
    name: ADD_TOOL,
    description: 'Adds a list of numbers and answers their sum.',
    inputSchema: addInput,
    execute: ({ numbers }) => numbers.reduce((sum, n) => sum + n, 0),
  };
}

/** The demo tools, in the order they are offered. The composition root registers them when `config.demoTools` is set. */
export function demoTools(clock: Clock): ServerTool[] {
  return [createGetTimeTool(clock), createAddTool()] as ServerTool[];
}
