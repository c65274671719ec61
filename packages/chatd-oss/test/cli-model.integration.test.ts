// `chatd model add|list|set-default` (issue 25) against real PostgreSQL: it writes providers and model
// configurations straight to the database like `chatd token`, NOTIFYs `chat:config_change` so running
// replicas drop their caches, and answers mistakes with exit code 2 and one line, writing nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase, waitFor } from '@chatd/testkit';
import { CHAT_CONFIG_EVENT_CHANNEL, createPgPubSub, decodeChatConfigEvent, type ChatConfigEvent, type PgPubSub } from '@chatd/pubsub';
import { createRealClock } from '@chatd/clock';
import { runCli } from '../src/cli/run-cli.js';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import { countRows, createStoreFixture, type StoreFixture } from './helpers/store-fixture.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: async (url) => void (await migrate(url)) });
let f: StoreFixture;
let listener: PgPubSub;
const events: ChatConfigEvent[] = [];

beforeAll(async () => {
  f = createStoreFixture(db.url);
  listener = await createPgPubSub({ connectionString: db.url, clock: createRealClock() });
  await listener.subscribe(CHAT_CONFIG_EVENT_CHANNEL, (msg) => {
    if (msg) events.push(decodeChatConfigEvent(msg));
  });
});
afterAll(async () => {
  await listener?.close();
  await f.close();
});

async function cli(args: string[], env: Record<string, string | undefined> = { DATABASE_URL: db.url }) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { env, out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

describe('chatd model', () => {
  it('add creates the provider (kind, key variable) and the configuration, made default with --default; replicas hear of it', async () => {
    const before = events.length;
    const r = await cli([
      'model', 'add', '--provider', 'anthropic', '--kind', 'anthropic', '--api-key-env', 'ANTHROPIC_API_KEY',
      '--model', 'claude-sonnet-4-5', '--default', '--max-output-tokens', '8192', '--reasoning-effort', 'medium',
    ]);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.out[0]).toBe('created provider anthropic (anthropic, key from $ANTHROPIC_API_KEY)');
    expect(r.out[1]).toMatch(/^added model config [0-9a-f-]{36} \(anthropic\/claude-sonnet-4-5, default\)$/);
    expect(await f.modelConfigs.getProviderSettings('anthropic')).toMatchObject({ kind: 'anthropic', apiKeyEnv: 'ANTHROPIC_API_KEY', apiKey: null });
    const def = (await f.modelConfigs.getDefaultModelConfig())!;
    expect(def).toMatchObject({ provider: 'anthropic', model: 'claude-sonnet-4-5', context_limit: 128_000, callOptions: { maxOutputTokens: 8192, reasoningEffort: 'medium' } });
    await waitFor(() => (events.length >= before + 2 ? true : undefined), { what: 'config change notifications', timeoutMs: 5000 });
    expect(events.slice(before).map((e) => e.kind)).toEqual(['providers', 'model_config']);
  });

  it('add reuses an existing provider (openai-compat accepted), list shows kinds and where keys come from, set-default moves the default', async () => {
    const a = await cli(['model', 'add', '--provider', 'ollama', '--kind', 'openai-compat', '--base-url', 'http://localhost:11434/v1', '--model', 'llama3.2', '--context-limit', '32000']);
    expect(a.code).toBe(0);
    expect(a.out[0]).toBe('created provider ollama (openai-compatible)');
    const b = await cli(['model', 'add', '--provider', 'ollama', '--model', 'qwen3', '--temperature', '0.3']);
    expect(b.code).toBe(0);
    expect(b.out).toHaveLength(1);
    expect(b.out[0]).toMatch(/\(ollama\/qwen3\)$/);

    const list = await cli(['model', 'list']);
    expect(list.code).toBe(0);
    expect(list.out[0]).toBe('ID\tPROVIDER\tKIND\tMODEL\tDEFAULT\tENABLED\tCONTEXT\tKEY\tCALL OPTIONS\tPRICES');
    const rows = list.out.slice(1).map((l) => l.split('\t'));
    expect(rows.map((r) => [r[1], r[2], r[3], r[4], r[6], r[7], r[8]])).toEqual([
      ['anthropic', 'anthropic', 'claude-sonnet-4-5', 'yes', '128000', '$ANTHROPIC_API_KEY', 'max_output_tokens=8192,reasoning_effort=medium'],
      ['ollama', 'openai-compatible', 'llama3.2', '-', '32000', '-', '-'],
      ['ollama', 'openai-compatible', 'qwen3', '-', '128000', '-', 'temperature=0.3'],
    ]);

    const byName = await cli(['model', 'set-default', 'llama3.2']);
    expect(byName.code).toBe(0);
    expect((await f.modelConfigs.getDefaultModelConfig())!.model).toBe('llama3.2');
    const qwenId = rows[2]![0]!;
    const byId = await cli(['model', 'set-default', qwenId]);
    expect(byId.out).toEqual([`default model config ${qwenId} (ollama/qwen3)`]);
    expect((await f.modelConfigs.getDefaultModelConfig())!.id).toBe(qwenId);
    const { rows: defaults } = await f.pool.query('SELECT count(*)::int AS n FROM chat_model_configs WHERE is_default');
    expect(defaults[0].n).toBe(1);
  });

  it('refuses mistakes with exit code 2 and one line, writing nothing; an unknown target of set-default is exit 1', async () => {
    const configs = await countRows(f, 'chat_model_configs');
    const providers = await countRows(f, 'chat_providers');
    const mistakes: [string[], RegExp][] = [
      [['model'], /subcommand is required/],
      [['model', 'remove'], /unknown subcommand "remove"/],
      [['model', 'add', '--model', 'm'], /--provider is required/],
      [['model', 'add', '--provider', 'p'], /--model is required/],
      [['model', 'add', '--provider', 'fresh', '--model', 'm', '--kind', 'bedrock'], /kind must be one of/],
      [['model', 'add', '--provider', 'fresh', '--model', 'm', '--api-key-env', 'sk-live-123'], /api_key_env must be an environment variable name/],
      [['model', 'add', '--provider', 'fresh', '--model', 'm', '--temperature', '9'], /temperature must be a number from 0 to 2/],
      [['model', 'add', '--provider', 'fresh', '--model', 'm', '--top-p', 'high'], /--top-p must be a number/],
      [['model', 'add', '--provider', 'fresh', '--model', 'm', '--reasoning-effort', 'ultra'], /reasoning_effort must be one of/],
      [['model', 'add', '--provider', 'fresh', '--model', 'm', '--context-limit', '0'], /--context-limit must be a positive integer/],
      [['model', 'add', '--provider', 'fresh', '--model', 'm', '--api-key', 'sk'], /Unknown option '--api-key'/],
      [['model', 'set-default'], /model config ID \(or a model name\) is required/],
    ];
    for (const [args, message] of mistakes) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toHaveLength(1);
      expect(r.err[0]).toMatch(message);
    }
    const none = await cli(['model', 'set-default', 'no-such-model']);
    expect(none.code).toBe(1);
    expect(none.err).toEqual(['chatd model set-default: no model config "no-such-model" (see chatd model list)']);
    expect(await countRows(f, 'chat_model_configs')).toBe(configs);
    expect(await countRows(f, 'chat_providers')).toBe(providers);
    const noDb = await cli(['model', 'list'], {});
    expect(noDb.code).toBe(2);
    expect(noDb.err[0]).toMatch(/DATABASE_URL is not set/);
  });

  it('has help text naming every subcommand, and chatd help lists it', async () => {
    const h = await cli(['model', '--help']);
    expect(h.code).toBe(0);
    expect(h.out[0]).toMatch(/^usage: chatd model add --provider NAME --model MODEL .*\| model list \| model set-default ID\|MODEL/);
    expect(h.out[0]).toContain('--api-key-env VAR');
    const all = await cli(['help']);
    expect(all.out.some((l) => /^ {2}model {6}add, list and choose the default model configuration/.test(l))).toBe(true);
  });
});
