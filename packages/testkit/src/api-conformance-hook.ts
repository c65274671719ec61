// The vitest hook that checks every response and socket frame a test file sees against the API description
// (contract.md#api-description): it wraps `globalThis.fetch` (every REST client of the tests and @chatd/client go
// through it) and the `message` events of `ws` client sockets, and fails the test that saw a problem (afterEach).
// testkit's SSE reader reports its events and answers here too. Installed by a package's vitest setup file; traffic to a fake server a test runs on purpose (a scripted replica
// speaking an old wire) is left out with `ignoreApiConformanceFor(origin)`.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach } from 'vitest';
import { createApiConformance, type ApiConformance, type ObservedResponse } from './api-conformance.js';

/** The `ws` WebSocket class (any copy): its client sockets' `message` events are checked. */
export type WebSocketClass = { prototype: { emit(event: string | symbol, ...args: unknown[]): boolean } };

/** What one test file's hook holds. */
type HookState = { conformance: ApiConformance; problems: string[]; pending: Promise<void>[]; ignored: Set<string> };

const STATE = Symbol.for('chatd.testkit.apiConformance.state');
const ORIGINAL_FETCH = Symbol.for('chatd.testkit.apiConformance.fetch');
const ORIGINAL_EMIT = Symbol.for('chatd.testkit.apiConformance.emit');
const CACHE = Symbol.for('chatd.testkit.apiConformance.cache');

type Globals = {
  [STATE]?: HookState;
  [ORIGINAL_FETCH]?: typeof fetch;
  [CACHE]?: { key: string; conformance: ApiConformance };
};
const globals = globalThis as typeof globalThis & Globals;

/** The repository root (this file is in packages/testkit/src or packages/testkit/dist). */
const repoRoot = () => path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/**
 * The checker of the committed documents (docs/openapi.json, docs/asyncapi.json), compiled once per process: every
 * test file of a vitest worker shares it, so its validators are compiled once.
 */
export function loadApiConformance(root = repoRoot()): ApiConformance {
  const openapiText = fs.readFileSync(path.join(root, 'docs', 'openapi.json'), 'utf8');
  const asyncapiText = fs.readFileSync(path.join(root, 'docs', 'asyncapi.json'), 'utf8');
  const key = `${openapiText.length}:${asyncapiText.length}:${openapiText.slice(-64)}`;
  const cached = globals[CACHE];
  if (cached?.key === key) return cached.conformance;
  const conformance = createApiConformance({ openapi: JSON.parse(openapiText) as Record<string, unknown>, asyncapi: JSON.parse(asyncapiText) as Record<string, unknown> });
  globals[CACHE] = { key, conformance };
  return conformance;
}

const originOf = (url: string) => {
  try {
    return new URL(url).host;
  } catch {
    return '';
  }
};

function record(state: HookState, problems: string[]): void {
  if (problems.length) state.problems.push(...problems);
}

/** Wraps fetch once per process; the wrapper reports to the current test file's state. */
function wrapFetch(): void {
  const original = (globals[ORIGINAL_FETCH] ??= globalThis.fetch);
  globalThis.fetch = async (input, init) => {
    const res = await original(input, init);
    const state = globals[STATE];
    if (!state) return res;
    const url = res.url || (typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    if (state.ignored.has(originOf(url))) return res;
    const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
    const contentType = res.headers.get('content-type');
    const media = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
    // Only JSON bodies are read (a copy, in the background); an event stream or a file is checked by status and type.
    if (media === 'application/json' || media === '') {
      state.pending.push(
        res
          .clone()
          .text()
          .then(
            (body) => record(state, state.conformance.checkResponse({ method, url, status: res.status, contentType, body })),
            () => undefined,
          ),
      );
    } else {
      record(state, state.conformance.checkResponse({ method, url, status: res.status, contentType, body: '' }));
    }
    return res;
  };
}

/** Wraps the `message` events of client sockets of this `ws` copy once per process. */
function wrapWebSocket(WebSocket: WebSocketClass): void {
  const proto = WebSocket.prototype as WebSocketClass['prototype'] & { [ORIGINAL_EMIT]?: WebSocketClass['prototype']['emit'] };
  const original = (proto[ORIGINAL_EMIT] ??= proto.emit);
  proto.emit = function emit(this: { url?: string }, event: string | symbol, ...args: unknown[]) {
    const state = globals[STATE];
    // Server-side sockets have no url: only what a client receives is checked.
    if (state && event === 'message' && this.url && args[1] !== true && !state.ignored.has(originOf(this.url))) {
      record(state, state.conformance.checkFrame(this.url, String(args[0])));
    }
    return original.call(this, event, ...args);
  };
}

/**
 * Waits for the checks under way and throws the problems seen since the last call (and forgets them); resolves
 * when there were none. The hook calls it after each test; a test may call it to assert on the problems.
 */
export async function checkApiConformanceNow(): Promise<void> {
  const state = globals[STATE];
  if (state) await flush(state);
}

async function flush(state: HookState): Promise<void> {
  while (state.pending.length) await Promise.all(state.pending.splice(0));
  if (!state.problems.length) return;
  const problems = state.problems.splice(0);
  throw new Error(`The API description does not match what the server sent (docs/openapi.json, docs/asyncapi.json; contract.md#api-description):\n${problems.join('\n')}`);
}

/**
 * Installs the hook for the test file (call it from a vitest setup file): every response of `fetch` and every
 * frame a `ws` client socket receives is checked, and the test that saw a problem fails in its afterEach.
 */
export function installApiConformance(options: { WebSocket?: WebSocketClass; conformance?: ApiConformance } = {}): void {
  const state: HookState = { conformance: options.conformance ?? loadApiConformance(), problems: [], pending: [], ignored: new Set() };
  globals[STATE] = state;
  wrapFetch();
  if (options.WebSocket) wrapWebSocket(options.WebSocket);
  afterEach(() => flush(state));
  afterAll(() => flush(state));
}

/** Checks a frame that arrived another way than a `ws` socket (an SSE event's `data`) when the hook is installed. */
export function observeApiFrame(url: string, text: string): void {
  const state = globals[STATE];
  if (state && !state.ignored.has(originOf(url))) record(state, state.conformance.checkFrame(url, text));
}

/** Checks a response that did not come through `fetch` (a raw node:http request) when the hook is installed. */
export function observeApiResponse(observed: ObservedResponse): void {
  const state = globals[STATE];
  if (state && !state.ignored.has(originOf(observed.url))) record(state, state.conformance.checkResponse(observed));
}

/** Leaves traffic to `url`'s host (a fake server the test runs on purpose) out of the current file's checks. */
export function ignoreApiConformanceFor(url: string): void {
  globals[STATE]?.ignored.add(originOf(url));
}
