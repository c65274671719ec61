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
      defaultModel: { provider: 'openai-compatible', model: 'gpt-4o-mini', baseUrl: 'http://localhost:8080/v1', apiKey: 'sk' },
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
    expect(openai).toMatchObject({ provider: 'openai-compatible', model: 'm-1', baseUrl: 'http://127.0.0.1:9/v1', apiKey: 'k' });
    const keyOnly = loadConfig({ DATABASE_URL: 'postgres://x/y', OPENAI_API_KEY: 'k' }).defaultModel;
    expect(keyOnly).toMatchObject({ provider: 'openai-compatible', model: 'gpt-4o-mini', baseUrl: 'https://api.openai.com/v1' });
  });
});
