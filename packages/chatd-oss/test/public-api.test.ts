import { describe, expect, it } from 'vitest';

/** The cap on runtime names of `@chatd/oss` (issue 24): the entry exports what embedders and the enterprise package use. */
const MAX_RUNTIME_EXPORTS = 120;

// What the enterprise package, tools/ and the README examples import at runtime from @chatd/oss.
const NEEDED = [
  'CHATD_MIGRATION_SOURCE',
  'CHATS_BASE_PATH',
  'ChatdError',
  'TOKEN_REVOKED_CLOSE_CODE',
  'TOKEN_REVOKED_CLOSE_REASON',
  'UsageError',
  'createChatd',
  'createIdentityStore',
  'createMigrateCommand',
  'createMigrationSource',
  'createPool',
  'createServeCommand',
  'eventJson',
  'createLanguageModel',
  'migrate',
  'migrationsKey',
  'runCli',
  'sendJson',
  'startChatdServer',
  'withEventJson',
];

// Internals that once leaked: row mappers, page sizes, timer tags, internal limits, wire names of @chatd/protocol.
const INTERNAL = [
  'toChat',
  'toMessage',
  'toQueued',
  'DEFAULT_PAGE_LIMIT',
  'MESSAGES_PAGE_SIZE',
  'ACQUIRE_TIMER_TAG',
  'HEARTBEAT_TIMER_TAG',
  'DEMO_TOKEN_TIMER_TAG',
  'MAX_FRAME_BYTES',
  'MAX_BODY_BYTES',
  'parseInt64',
  'requireUuid',
  'checkCookieRequest',
  'RELAY_SOURCE_HEADER',
  'parseStreamQuery',
  'NOOP_CHAT_LOGGER',
];

describe('the public entry of @chatd/oss', () => {
  it(`exports fewer than ${MAX_RUNTIME_EXPORTS} runtime names`, async () => {
    const names = Object.keys(await import('../src/index.js'));
    expect(names.length).toBeLessThan(MAX_RUNTIME_EXPORTS);
  });

  it('exports what the enterprise package, tools/ and the README use, and none of the internals', async () => {
    const entry: Record<string, unknown> = await import('../src/index.js');
    expect(NEEDED.filter((n) => entry[n] === undefined)).toEqual([]);
    expect(INTERNAL.filter((n) => n in entry)).toEqual([]);
  });
});
