// The root README's embedding examples (fenced ```ts embed-example```) run as they are, each in its own
// Node process through tsx, against a real test database and a real replica. Workspace packages resolve to
// their sources (a tsconfig `paths` map of every packages/*), so @chatd/client and @chatd/protocol imports
// work as soon as those packages exist, without a build.
// NOTE for the lead: the client example imports createChatClient from @chatd/oss until @chatd/client lands;
// switch the README to `@chatd/client` then (the paths map picks the new package up by itself).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createRealClock } from '@chatd/clock';
import { partText } from '@chatd/protocol';
import { useTestDatabase, waitFor } from '@chatd/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LanguageModelV3 } from '@ai-sdk/provider';
import { createDemoLanguageModel } from '../src/model/demo-model.js';
import { fixedModels } from './helpers/test-models.js';
import type { RunningChatd } from '../src/start-chatd-server.js';
import { startTestReplica, userToken } from './helpers/server-harness.js';

const pkgDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const packagesDir = path.resolve(pkgDir, '..');
const readmePath = path.resolve(pkgDir, '..', '..', 'README.md');

/** How long an example may take to start, or to finish once it has what it waits for. */
const EXAMPLE_DEADLINE_MS = 30_000;
/** Per test: a cold tsx start plus the example's own deadline. */
const TEST_TIMEOUT_MS = 2 * EXAMPLE_DEADLINE_MS;

type Example = { code: string; given: string[] };

/** The README's ```ts embed-example [given: a, b]``` blocks, in order. */
function readmeExamples(): Example[] {
  const text = fs.readFileSync(readmePath, 'utf8');
  const out: Example[] = [];
  for (const m of text.matchAll(/^```ts embed-example([^\n]*)\n([\s\S]*?)^```$/gm)) {
    const given = /given:\s*(.*)$/.exec(m[1]!)?.[1]?.split(',').map((s) => s.trim()).filter(Boolean) ?? [];
    out.push({ code: m[2]!, given });
  }
  return out;
}

/** The one example that imports `name` from `spec`, so a renamed or dropped example fails loudly. */
function exampleImporting(name: string, spec: string): Example {
  const found = readmeExamples().filter((e) => new RegExp(`^import \\{[^}]*\\b${name}\\b[^}]*\\} from '${spec}';$`, 'm').test(e.code));
  expect(found, `README examples importing ${name} from ${spec}`).toHaveLength(1);
  return found[0]!;
}

const db = useTestDatabase();
let dir: string;
let tsconfig: string;
const children: ChildProcess[] = [];
const cleanups: (() => Promise<void>)[] = [];

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-readme-'));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  // Every workspace package by its name, to its sources (as vitest's aliases do).
  const paths: Record<string, string[]> = {};
  for (const entry of fs.readdirSync(packagesDir)) {
    const manifest = path.join(packagesDir, entry, 'package.json');
    const index = path.join(packagesDir, entry, 'src', 'index.ts');
    if (fs.existsSync(manifest) && fs.existsSync(index)) paths[(JSON.parse(fs.readFileSync(manifest, 'utf8')) as { name: string }).name] = [index];
  }
  tsconfig = path.join(dir, 'tsconfig.json');
  fs.writeFileSync(tsconfig, JSON.stringify({ extends: path.join(pkgDir, 'tsconfig.json'), compilerOptions: { paths } }));
});

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Runs an example (after `prelude`) as a child process; collects its output. */
function runExample(name: string, example: Example, env: Record<string, string>, prelude = '') {
  const file = path.join(dir, `${name}.ts`);
  fs.writeFileSync(file, `${prelude}${example.code}`);
  // Run from the package folder, where `--import tsx` resolves; the example's own imports go through the paths map.
  const child = spawn(process.execPath, ['--import', 'tsx', file], {
    cwd: pkgDir,
    env: { ...process.env, ...env, TSX_TSCONFIG_PATH: tsconfig },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const out = { stdout: '', stderr: '', lines: [] as string[] };
  child.stdout!.on('data', (d: Buffer) => (out.stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out.stderr += d.toString()));
  readline.createInterface({ input: child.stdout! }).on('line', (l) => out.lines.push(l));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, out, exited };
}

describe('the README embedding examples', () => {
  it('are there: the server, the client and pubsub', () => {
    expect(readmeExamples()).toHaveLength(3);
  });

  it('the whole server in your process: listens, serves, and stops cleanly on SIGTERM', async () => {
    const run = runExample('server', exampleImporting('startChatdServer', '@chatd/oss'), {
      DATABASE_URL: db.url,
      PORT: '0',
      CHATD_LOG_LEVEL: 'silent',
    });
    const url = await waitFor(
      () => {
        if (run.child.exitCode !== null) throw new Error(`the example exited (${run.child.exitCode}): ${run.out.stderr}`);
        return run.out.lines.map((l) => /^listening on (http:\S+)$/.exec(l)?.[1]).find(Boolean);
      },
      { what: 'the server example to listen', timeoutMs: EXAMPLE_DEADLINE_MS },
    );
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    run.child.kill('SIGTERM');
    await expect(withDeadline(run.exited, 'the server example to exit after SIGTERM')).resolves.toBe(0);
  }, TEST_TIMEOUT_MS);

  it('the client: streams the reply of a new chat and stops at waiting', async () => {
    const replica = await startGatedReplica();
    const { token } = await userToken(replica, 'readme-reader');
    // Until @chatd/client lands the example imports the client from @chatd/oss (see the note at the top).
    const example = exampleImporting('createChatClient', '(?:@chatd/client|@chatd/oss)');
    const run = runExample('client', example, { CHATD_URL: replica.url, CHATD_TOKEN: token });
    const code = await withDeadline(run.exited, 'the client example to finish');
    expect(code, run.out.stderr).toBe(0);
    const [chat] = await replica.chatd.chats.listChats({ ownerId: (await replica.chatd.identity.ensureUser({ username: 'readme-reader' })).user.id });
    const page = await replica.chatd.chats.listMessages({ chatId: chat!.id });
    const reply = page.messages.find((m) => m.role === 'assistant')!;
    // Every part arrived live (the model waits for the subscriber), so the printed text is the whole reply.
    expect(run.out.stdout).toBe(reply.content!.map((p) => partText(p) ?? '').join(''));
    expect(run.out.stdout.length).toBeGreaterThan(0);
  }, TEST_TIMEOUT_MS);

  it('pubsub: a published hint reaches the subscriber with its after_message_id', async () => {
    const example = exampleImporting('createPgPubSub', '@chatd/pubsub');
    expect(example.given).toEqual(['chatId', 'catchUpFromDatabase', 'loadMessagesAfter']);
    const prelude = [
      `const chatId = ${JSON.stringify('0b1f4a52-8c3e-4c1a-9d7e-2f5b6a7c8d90')};`,
      `const catchUpFromDatabase = () => console.log('catch up');`,
      `const loadMessagesAfter = (id: number) => console.log('messages after ' + id);`,
      '',
    ].join('\n');
    const run = runExample('pubsub', example, { DATABASE_URL: db.url }, prelude);
    await waitFor(
      () => {
        if (run.child.exitCode !== null) throw new Error(`the example exited (${run.child.exitCode}): ${run.out.stderr}`);
        return run.out.lines.includes('messages after 41');
      },
      { what: 'the pubsub example to hear its own hint', timeoutMs: EXAMPLE_DEADLINE_MS },
    );
    expect(run.out.lines).toEqual(['messages after 41']);
  }, TEST_TIMEOUT_MS);
});

/** Resolves with what `p` resolves to, or rejects when it has not settled within the deadline. */
async function withDeadline<T>(p: Promise<T>, what: string): Promise<T> {
  let settled: { v: T } | undefined;
  void p.then((v) => (settled = { v }));
  return (await waitFor(() => settled, { what, timeoutMs: EXAMPLE_DEADLINE_MS })).v;
}

/**
 * A replica whose demo model starts a reply only once a stream subscriber is there, so the client example
 * sees every part live whatever the machine's load (without it, a fast reply could end before the socket opens).
 */
async function startGatedReplica(): Promise<RunningChatd> {
  const clock = createRealClock();
  const demo = createDemoLanguageModel({ clock, tokensPerSecond: 400, replyTokens: 24 });
  let replica: RunningChatd | undefined;
  const gated: LanguageModelV3 = {
    ...demo,
    async doStream(call) {
      await waitFor(() => (replica?.subscriber.metrics().active ?? 0) > 0, { what: 'the client example to subscribe', timeoutMs: EXAMPLE_DEADLINE_MS });
      return demo.doStream(call);
    },
  };
  replica = await startTestReplica(db.url, { models: fixedModels(gated) });
  const r = replica;
  cleanups.push(() => r.close());
  return replica;
}
