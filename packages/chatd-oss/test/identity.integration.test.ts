import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@chatd/testkit';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import { hashApiToken, isApiTokenShape } from '../src/identity/api-token.js';
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
