import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@chatd/testkit';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import { ChatdError } from '../src/chatd-error.js';
import { hashApiToken, isApiTokenShape } from '../src/identity/api-token.js';
import { DEFAULT_CONSOLE_SESSION_TTL_MS, SESSION_EXTEND_RESOLUTION_MS, createIdentityStore } from '../src/identity/identity-store.js';
import { createStoreFixture, expectCode, type StoreFixture } from './helpers/store-fixture.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: async (url) => void (await migrate(url)) });
let f: StoreFixture;

beforeAll(() => {
  f = createStoreFixture(db.url);
});
afterAll(async () => {
  await f.close();
});

describe('users and organizations', () => {
  it('has a default organization from the migration and puts every new user in it', async () => {
    const org = await f.identity.defaultOrganization();
    expect(org).toMatchObject({ name: 'default', isDefault: true });
    const u = await f.identity.createUser({ username: 'alice' });
    expect(u).toMatchObject({ username: 'alice', admin: false, systemPrompt: '' });
    expect(await f.identity.isMember(org.id, u.id)).toBe(true);
    expect((await f.identity.listUserOrganizations(u.id)).map((o) => o.name)).toEqual(['default']);
  });

  it('manages membership of other organizations', async () => {
    const u = await f.identity.createUser({ username: 'bob' });
    const eng = await f.identity.createOrganization('eng');
    expect(await f.identity.isMember(eng.id, u.id)).toBe(false);
    await f.identity.addMember(eng.id, u.id);
    await f.identity.addMember(eng.id, u.id);
    expect(await f.identity.isMember(eng.id, u.id)).toBe(true);
    expect((await f.identity.listUserOrganizations(u.id)).map((o) => o.name)).toEqual(['default', 'eng']);
    await f.identity.removeMember(eng.id, u.id);
    expect(await f.identity.isMember(eng.id, u.id)).toBe(false);
    await expectCode(f.identity.createOrganization('eng'), 'CONFLICT');
    await expectCode(f.identity.createOrganization('Bad Name'), 'INVALID_INPUT');
    await expectCode(f.identity.addMember('3b241101-e2bb-4255-8caf-4136c566a962', u.id), 'NOT_FOUND');
  });

  it('refuses duplicate and malformed usernames; ensureUser creates once and can grant admin', async () => {
    await expectCode(f.identity.createUser({ username: 'alice' }), 'CONFLICT');
    await expectCode(f.identity.createUser({ username: 'no spaces' }), 'INVALID_INPUT');
    await expectCode(f.identity.createUser({ username: '' }), 'INVALID_INPUT');
    const first = await f.identity.ensureUser({ username: 'carol' });
    expect(first.created).toBe(true);
    const again = await f.identity.ensureUser({ username: 'carol', admin: true });
    expect(again).toMatchObject({ created: false, user: { id: first.user.id, admin: true } });
    // Without --admin an existing admin stays admin.
    expect((await f.identity.ensureUser({ username: 'carol' })).user.admin).toBe(true);
    expect(await f.identity.getUserByUsername('nobody')).toBeUndefined();
    expect((await f.identity.getUser(first.user.id))!.username).toBe('carol');
  });

  it('stores a per-user system prompt', async () => {
    const u = await f.identity.createUser({ username: 'dave' });
    await f.identity.setUserSystemPrompt(u.id, 'Answer in French.');
    expect((await f.identity.getUser(u.id))!.systemPrompt).toBe('Answer in French.');
    await expectCode(f.identity.setUserSystemPrompt(u.id, 'x'.repeat(10_001)), 'INVALID_INPUT');
  });
});

describe('API tokens', () => {
  it('creates a token whose hash alone is stored, verifies it, lists it and stops verifying once revoked', async () => {
    const u = await f.identity.createUser({ username: 'erin', admin: true });
    const { token, info } = await f.identity.createToken(u.id, 'laptop');
    expect(isApiTokenShape(token)).toBe(true);
    const { rows } = await f.pool.query('SELECT token_hash FROM api_tokens WHERE id = $1', [info.id]);
    expect(Buffer.compare(rows[0].token_hash as Buffer, hashApiToken(token))).toBe(0);
    const { rows: leaked } = await f.pool.query(`SELECT 1 FROM api_tokens WHERE encode(token_hash, 'escape') LIKE '%' || $1 || '%'`, [token.slice(6, 20)]);
    expect(leaked).toEqual([]);

    const who = await f.identity.verifyToken(token);
    expect(who).toMatchObject({ tokenId: info.id, user: { id: u.id, username: 'erin', admin: true } });
    expect(await f.identity.verifyToken(`${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`)).toBeUndefined();
    expect(await f.identity.verifyToken('garbage')).toBeUndefined();

    const list = await f.identity.listTokens(u.id);
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ id: info.id, name: 'laptop', revokedAt: null });
    expect(list[0]!.lastUsedAt).not.toBeNull();
    expect(JSON.stringify(list)).not.toContain(token);

    expect(await f.identity.revokeToken(info.id)).toBe(true);
    expect(await f.identity.revokeToken(info.id)).toBe(false);
    expect(await f.identity.verifyToken(token)).toBeUndefined();
    expect((await f.identity.listTokens(u.id))[0]!.revokedAt).not.toBeNull();
  });

  it('keeps tokens apart per user and refuses bad ids', async () => {
    const u1 = await f.identity.createUser({ username: 'frank' });
    const u2 = await f.identity.createUser({ username: 'grace' });
    const t1 = await f.identity.createToken(u1.id);
    const t2 = await f.identity.createToken(u2.id);
    expect(t1.token).not.toBe(t2.token);
    expect((await f.identity.verifyToken(t2.token))!.user.id).toBe(u2.id);
    await f.identity.revokeToken(t1.info.id);
    expect((await f.identity.verifyToken(t2.token))!.user.id).toBe(u2.id);
    await expectCode(f.identity.createToken('3b241101-e2bb-4255-8caf-4136c566a962'), 'NOT_FOUND');
    await expectCode(f.identity.revokeToken('nope'), 'INVALID_INPUT');
  });

  it('writes last_used_at at most once a minute', async () => {
    const u = await f.identity.createUser({ username: 'heidi' });
    const { token, info } = await f.identity.createToken(u.id);
    await f.identity.verifyToken(token);
    const t0 = (await f.identity.listTokens(u.id))[0]!.lastUsedAt;
    await f.clock.advance(30_000);
    await f.identity.verifyToken(token);
    expect((await f.identity.listTokens(u.id))[0]!.lastUsedAt).toBe(t0);
    await f.clock.advance(31_000);
    await f.identity.verifyToken(token);
    expect((await f.identity.listTokens(u.id)).find((t) => t.id === info.id)!.lastUsedAt).toBe(f.clock.now().toISOString());
  });
});

describe('console sessions', () => {
  const HOUR = 60 * 60 * 1000;
  const expiresAt = async (tokenId: string) =>
    ((await f.pool.query<{ expires_at: Date }>('SELECT expires_at FROM api_tokens WHERE id = $1', [tokenId])).rows[0]!.expires_at).toISOString();

  it('mints a separate token of kind session that expires 12 h after its last use, unlisted and stored as a hash', async () => {
    const u = await f.identity.createUser({ username: 'ivan' });
    const api = await f.identity.createToken(u.id, 'cli');
    const session = await f.identity.createSession(u.id);
    expect(isApiTokenShape(session.token)).toBe(true);
    expect(session.token).not.toBe(api.token);
    expect(session.expiresAt).toBe(new Date(f.clock.nowMs() + DEFAULT_CONSOLE_SESSION_TTL_MS).toISOString());
    expect(DEFAULT_CONSOLE_SESSION_TTL_MS).toBe(12 * HOUR);
    const { rows } = await f.pool.query('SELECT token_hash, kind FROM api_tokens WHERE id = $1', [session.tokenId]);
    expect(rows[0].kind).toBe('session');
    expect(Buffer.compare(rows[0].token_hash as Buffer, hashApiToken(session.token))).toBe(0);
    expect(await f.identity.verifyToken(session.token)).toMatchObject({ tokenId: session.tokenId, tokenKind: 'session', user: { id: u.id } });
    expect(await f.identity.verifyToken(api.token)).toMatchObject({ tokenKind: 'api' });
    expect((await f.identity.listTokens(u.id)).map((t) => t.id)).toEqual([api.info.id]);

    // Unused for 12 h: expired, while the API token lives on.
    await f.clock.advance(DEFAULT_CONSOLE_SESSION_TTL_MS - 1);
    expect(await f.identity.verifyToken(session.token)).toBeDefined();
    await f.clock.advance(DEFAULT_CONSOLE_SESSION_TTL_MS);
    expect(await f.identity.verifyToken(session.token)).toBeUndefined();
    expect(await f.identity.verifyToken(api.token)).toBeDefined();
    await expectCode(f.identity.createSession('3b241101-e2bb-4255-8caf-4136c566a962'), 'NOT_FOUND');
  });

  it('slides: a use moves the expiry to now + TTL, written only once the move passes the resolution', async () => {
    const u = await f.identity.createUser({ username: 'judy' });
    const session = await f.identity.createSession(u.id);
    const first = await expiresAt(session.tokenId);
    await f.clock.advance(SESSION_EXTEND_RESOLUTION_MS - 1000);
    await f.identity.verifyToken(session.token);
    expect(await expiresAt(session.tokenId)).toBe(first);
    await f.clock.advance(1000);
    await f.identity.verifyToken(session.token);
    expect(await expiresAt(session.tokenId)).toBe(new Date(f.clock.nowMs() + DEFAULT_CONSOLE_SESSION_TTL_MS).toISOString());
    // Kept in use every 11 h, it outlives several TTLs from its creation.
    for (let i = 0; i < 3; i++) {
      await f.clock.advance(11 * HOUR);
      expect(await f.identity.verifyToken(session.token)).toBeDefined();
    }
    await f.clock.advance(12 * HOUR);
    expect(await f.identity.verifyToken(session.token)).toBeUndefined();
  });

  it('honours a shorter TTL, and revokeSession revokes sessions only', async () => {
    const short = createIdentityStore({ pool: f.pool, clock: f.clock, sessionTtlMs: 60_000 });
    const u = await short.createUser({ username: 'ken' });
    const api = await short.createToken(u.id);
    const session = await short.createSession(u.id);
    await f.clock.advance(40_000);
    expect(await short.verifyToken(session.token)).toBeDefined(); // slides to +60 s (the resolution is half the TTL)
    await f.clock.advance(40_000);
    expect(await short.verifyToken(session.token)).toBeDefined();
    expect(await short.revokeSession(api.token)).toBe(false);
    expect(await short.verifyToken(api.token)).toBeDefined();
    expect(await short.revokeSession(session.token)).toBe(true);
    expect(await short.revokeSession(session.token)).toBe(false);
    expect(await short.verifyToken(session.token)).toBeUndefined();
    expect(await short.revokeSession('garbage')).toBe(false);
    expect(() => createIdentityStore({ pool: f.pool, clock: f.clock, sessionTtlMs: 0 })).toThrow(ChatdError);
  });
});
