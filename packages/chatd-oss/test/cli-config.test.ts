import { describe, expect, it } from 'vitest';
import { ChatdError } from '../src/chatd-error.js';
import { DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_STALE_AFTER_MS, loadConfig, requireDatabaseUrl } from '../src/config.js';

const URL_ = 'postgres://u@h/db';

function configError(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof ChatdError && err.code === 'CONFIG') return err.message;
    throw err;
  }
  return undefined;
}

describe('loadConfig', () => {
  it('has the original defaults (contract.md#timings)', () => {
    const c = loadConfig({ DATABASE_URL: URL_ });
    expect(c).toMatchObject({
      databaseUrl: URL_,
      acquireIntervalMs: 1000,
      heartbeatIntervalMs: DEFAULT_HEARTBEAT_INTERVAL_MS,
      staleAfterMs: DEFAULT_STALE_AFTER_MS,
      maxQueueSize: 20,
      maxChatsPerAcquire: 10,
      maxSteps: 20,
      worker: true,
      logLevel: 'info',
      defaultModel: { provider: 'demo', model: 'demo', baseUrl: null, apiKey: null, contextLimit: 128_000 },
    });
    expect(c.heartbeatIntervalMs).toBe(30_000);
    expect(c.staleAfterMs).toBe(300_000);
  });

  it('reads every knob from the environment, flags winning', () => {
    const c = loadConfig(
      {
        DATABASE_URL: URL_,
        CHATD_HEARTBEAT_INTERVAL_MS: '500',
        CHATD_STALE_AFTER_MS: '2000',
        CHATD_ACQUIRE_INTERVAL_MS: '100',
        CHATD_MAX_QUEUE_SIZE: '5',
        CHATD_WORKER: '0',
        CHATD_LOG_LEVEL: 'debug',
        CHATD_MODEL_PROVIDER: 'openai-compatible',
        CHATD_MODEL: 'gpt-4o-mini',
        CHATD_MODEL_BASE_URL: 'http://localhost:8080/v1',
        CHATD_MODEL_API_KEY: 'sk',
      },
      { databaseUrl: 'postgresql://other/db', worker: true },
    );
    expect(c).toMatchObject({
      databaseUrl: 'postgresql://other/db',
      heartbeatIntervalMs: 500,
      staleAfterMs: 2000,
      acquireIntervalMs: 100,
      maxQueueSize: 5,
      worker: true,
      logLevel: 'debug',
      // The key is referenced by its variable, never copied into the database.
      defaultModel: { provider: 'openai-compatible', kind: 'openai-compatible', model: 'gpt-4o-mini', baseUrl: 'http://localhost:8080/v1', apiKey: null, apiKeyEnv: 'CHATD_MODEL_API_KEY' },
    });
    expect(loadConfig({ DATABASE_URL: URL_, CHATD_WORKER: 'false' }).worker).toBe(false);
  });

  it('refuses bad values with a one-line CONFIG error', () => {
    expect(configError(() => loadConfig({}))).toBe('DATABASE_URL is not set (set it or pass --database-url)');
    expect(configError(() => loadConfig({ DATABASE_URL: 'mysql://x' }))).toMatch(/postgres/);
    expect(configError(() => loadConfig({ DATABASE_URL: URL_, CHATD_STALE_AFTER_MS: '-5' }))).toMatch(/CHATD_STALE_AFTER_MS/);
    expect(configError(() => loadConfig({ DATABASE_URL: URL_, CHATD_HEARTBEAT_INTERVAL_MS: '1.5' }))).toMatch(/positive integer/);
    expect(configError(() => loadConfig({ DATABASE_URL: URL_, CHATD_WORKER: 'maybe' }))).toMatch(/CHATD_WORKER/);
    expect(configError(() => loadConfig({ DATABASE_URL: URL_, CHATD_LOG_LEVEL: 'loud' }))).toMatch(/CHATD_LOG_LEVEL/);
    expect(configError(() => requireDatabaseUrl({ DATABASE_URL: '  ' }))).toMatch(/not set/);
  });

  it('lets a caller with its own connections go without a URL', () => {
    expect(loadConfig({}, { allowMissingDatabaseUrl: true }).databaseUrl).toBe('');
  });

  it('reads the console session TTL (CHATD_CONSOLE_SESSION_TTL_MS, default 12 h) and refuses a bad one', () => {
    expect(loadConfig({ DATABASE_URL: URL_ }).consoleSessionTtlMs).toBe(12 * 60 * 60 * 1000);
    expect(loadConfig({ DATABASE_URL: URL_, CHATD_CONSOLE_SESSION_TTL_MS: '60000' }).consoleSessionTtlMs).toBe(60_000);
    expect(configError(() => loadConfig({ DATABASE_URL: URL_, CHATD_CONSOLE_SESSION_TTL_MS: '0' }))).toMatch(/CHATD_CONSOLE_SESSION_TTL_MS/);
  });
});

describe('loadConfig: the default model from OPENAI_* variables', () => {
  it('OPENAI_BASE_URL / OPENAI_API_KEY / CHATD_MODEL select an OpenAI-compatible default model; nothing set is the demo model', async () => {
    const { loadConfig } = await import('../src/config.js');
    const demo = loadConfig({ DATABASE_URL: 'postgres://x/y' }).defaultModel;
    expect(demo).toMatchObject({ provider: 'demo', model: 'demo', baseUrl: null, apiKey: null });
    const openai = loadConfig({ DATABASE_URL: 'postgres://x/y', OPENAI_BASE_URL: 'http://127.0.0.1:9/v1', OPENAI_API_KEY: 'k', CHATD_MODEL: 'm-1' }).defaultModel;
    expect(openai).toMatchObject({ provider: 'openai-compatible', kind: 'openai-compatible', model: 'm-1', baseUrl: 'http://127.0.0.1:9/v1', apiKey: null, apiKeyEnv: 'OPENAI_API_KEY' });
    const keyOnly = loadConfig({ DATABASE_URL: 'postgres://x/y', OPENAI_API_KEY: 'k' }).defaultModel;
    expect(keyOnly).toMatchObject({ provider: 'openai-compatible', model: 'gpt-4o-mini', baseUrl: 'https://api.openai.com/v1' });
  });
});

describe('loadConfig: the default model from ANTHROPIC_API_KEY, CHATD_MODEL_KIND and precedence', () => {
  it('ANTHROPIC_API_KEY alone makes an anthropic provider that reads its key from that variable', async () => {
    const { loadConfig, DEFAULT_ANTHROPIC_ENV_MODEL } = await import('../src/config.js');
    const a = loadConfig({ DATABASE_URL: 'postgres://x/y', ANTHROPIC_API_KEY: 'sk-ant' }).defaultModel;
    expect(a).toEqual({
      provider: 'anthropic',
      kind: 'anthropic',
      model: DEFAULT_ANTHROPIC_ENV_MODEL,
      baseUrl: null,
      apiKey: null,
      apiKeyEnv: 'ANTHROPIC_API_KEY',
      contextLimit: 128_000,
      displayName: DEFAULT_ANTHROPIC_ENV_MODEL,
    });
    expect(JSON.stringify(a)).not.toContain('sk-ant');
    expect(loadConfig({ DATABASE_URL: 'postgres://x/y', ANTHROPIC_API_KEY: 'k', CHATD_MODEL: 'claude-x' }).defaultModel.model).toBe('claude-x');
  });

  it("OpenAI's variables win over ANTHROPIC_API_KEY; an empty OPENAI_BASE_URL counts as unset", async () => {
    const { loadConfig } = await import('../src/config.js');
    const both = loadConfig({ DATABASE_URL: 'postgres://x/y', ANTHROPIC_API_KEY: 'a', OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1' }).defaultModel;
    expect(both).toMatchObject({ provider: 'openai-compatible', kind: 'openai-compatible', baseUrl: 'http://127.0.0.1:11434/v1', apiKeyEnv: null });
    expect(loadConfig({ DATABASE_URL: 'postgres://x/y', ANTHROPIC_API_KEY: 'a', OPENAI_BASE_URL: ' ' }).defaultModel.kind).toBe('anthropic');
  });

  it('CHATD_MODEL_PROVIDER names a provider whose kind comes from CHATD_MODEL_KIND (openai-compat accepted) or its name', async () => {
    const { loadConfig } = await import('../src/config.js');
    const env = { DATABASE_URL: 'postgres://x/y', CHATD_MODEL: 'm' };
    expect(loadConfig({ ...env, CHATD_MODEL_PROVIDER: 'anthropic', ANTHROPIC_API_KEY: 'k' }).defaultModel).toMatchObject({ kind: 'anthropic', apiKeyEnv: 'ANTHROPIC_API_KEY' });
    expect(loadConfig({ ...env, CHATD_MODEL_PROVIDER: 'vllm', CHATD_MODEL_KIND: 'openai-compat' }).defaultModel.kind).toBe('openai-compatible');
    expect(loadConfig({ ...env, CHATD_MODEL_PROVIDER: 'oai', CHATD_MODEL_KIND: 'openai' }).defaultModel.kind).toBe('openai');
    expect(loadConfig({ ...env, CHATD_MODEL_PROVIDER: 'demo' }).defaultModel.kind).toBe('demo');
    expect(configError(() => loadConfig({ ...env, CHATD_MODEL_PROVIDER: 'x', CHATD_MODEL_KIND: 'bedrock' }))).toMatch(/CHATD_MODEL_KIND must be one of/);
  });
});
