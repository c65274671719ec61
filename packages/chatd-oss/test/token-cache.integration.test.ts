// The verified-token cache (issue 36) against real PostgreSQL and LISTEN/NOTIFY, two identity stores standing for
// two replicas on one database, each on a mock clock that never moves, so nothing here expires by time: a hit
// costs no query; a revocation is refused at once by the replica that revoked, by the other once it hears
// `chat:token_revoked` (token-revocation.ts), and by every cache when that channel reports lost messages.
import { createMockClock } from '@chatd/clock';
import { createPgPubSub, type PgPubSub } from '@chatd/pubsub';
import { useTestDatabase, waitFor } from '@chatd/testkit';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentityStore, type IdentityStore } from '../src/identity/identity-store.js';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import { createTokenRevocation, type TokenRevocation } from '../src/server/token-revocation.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: async (url) => void (await migrate(url)) });

const clock = createMockClock({ now: new Date('2026-01-01T00:00:00Z') });
let pool: pg.Pool;
let pubsubA: PgPubSub;
let pubsubB: PgPubSub;
let a: IdentityStore;
let b: IdentityStore;
let revocationB: TokenRevocation;
/** Token look-ups (`verifyToken`'s query) sent through the pool. */
let lookups = 0;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  (pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].includes('WHERE t.token_hash = $1')) lookups++;
    return query(...args);
  };
  pubsubA = await createPgPubSub({ connectionString: db.url, clock });
  pubsubB = await createPgPubSub({ connectionString: db.url, clock });
  // Long enough that only a revocation, never the clock, can drop an entry in this file.
  a = createIdentityStore({ pool, clock, pubsub: pubsubA, tokenCacheMs: 60_000 });
  b = createIdentityStore({ pool, clock, pubsub: pubsubB, tokenCacheMs: 60_000 });
  revocationB = createTokenRevocation({ identity: b, pubsub: pubsubB, clock, logger: pino({ level: 'silent' }) });
  await revocationB.start();
});
afterAll(async () => {
  revocationB?.stop();
  await pubsubA?.close();
  await pubsubB?.close();
  await pool?.end();
});

describe('the verified-token cache (issue 36)', () => {
  it('answers a verified token from memory: one look-up for many verifications', async () => {
    const { user } = await a.ensureUser({ username: 'cached' });
    const { token } = await a.createToken(user.id, 'bench');
    const before = lookups;
    const answers = [await a.verifyToken(token), await a.verifyToken(token), await a.verifyToken(token)];
    expect(answers.map((x) => x?.user.id)).toEqual([user.id, user.id, user.id]);
    expect(lookups - before).toBe(1);
  });

  it('refuses a revoked token at once on the revoking replica, and on the other once it hears the revocation', async () => {
    const { user } = await a.ensureUser({ username: 'revoked' });
    const { token, info } = await a.createToken(user.id, 'to revoke');
    expect((await a.verifyToken(token))?.tokenId).toBe(info.id);
    expect((await b.verifyToken(token))?.tokenId).toBe(info.id);
    expect(await a.revokeToken(info.id)).toBe(true);
    expect(await a.verifyToken(token)).toBeUndefined();
    // B's entry would live 60 s on this clock: only the announcement can drop it.
    await waitFor(async () => (await b.verifyToken(token)) === undefined, { what: 'replica B to refuse the revoked token' });
  });

  it('a revocation written by hand (no announcement) is refused once the channel reports lost messages', async () => {
    const { user } = await a.ensureUser({ username: 'by-hand' });
    const { token, info } = await a.createToken(user.id, 'revoked by hand');
    expect((await b.verifyToken(token))?.tokenId).toBe(info.id);
    await pool.query('UPDATE api_tokens SET revoked_at = $2 WHERE id = $1', [info.id, clock.now()]);
    // Still remembered: nothing told B. A fresh verification (what a relay leg's dial asks) reads the database.
    expect((await b.verifyToken(token))?.tokenId).toBe(info.id);
    expect(await b.verifyToken(token, { fresh: true })).toBeUndefined();
    // A malformed event stands for a lost one: B forgets every verification and asks the database again.
    await pubsubA.publish('chat:token_revoked', 'not json');
    await waitFor(async () => (await b.verifyToken(token)) === undefined, { what: 'replica B to forget its verifications' });
  });

  it('never keeps a session past its expiry', async () => {
    const { user } = await a.ensureUser({ username: 'session' });
    const short = createIdentityStore({ pool, clock, sessionTtlMs: 1_000, tokenCacheMs: 60_000 });
    const session = await short.createSession(user.id);
    expect((await short.verifyToken(session.token))?.tokenKind).toBe('session');
    await clock.advance(1_001);
    expect(await short.verifyToken(session.token)).toBeUndefined();
  });
});
