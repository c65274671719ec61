// `chatd limit set|get|clear`: per-user spend limits (contract.md#cost) for operators. Like `chatd model` it goes
// straight to the database (DATABASE_URL or --database-url) and needs no running replica and no admin token;
// replicas read limits on every check, so nothing has to be notified. `<user>` is a user ID or a username.
import { createRealClock } from '@chatd/clock';
import { isUuid } from '@chatd/protocol';
import { requireDatabaseUrl } from '../config.js';
import { ChatdError } from '../chatd-error.js';
import { createCostStore, type CostStore } from '../cost/cost-store.js';
import { SPEND_PERIODS } from '../cost/spend-period.js';
import { createPool } from '../store/db.js';
import type pg from 'pg';
import { UsageError, parseCommandArgs, type CliCommand, type CliIo } from './cli-args.js';

const USAGE = `limit set USER ${SPEND_PERIODS.join('|')} MICROS | limit get USER | limit clear USER  [--database-url URL]`;

async function withStore<T>(io: CliIo, databaseUrl: string | undefined, fn: (store: CostStore, pool: pg.Pool) => Promise<T>): Promise<T> {
  const pool = createPool(requireDatabaseUrl(io.env, databaseUrl), 2);
  try {
    return await fn(createCostStore({ pool, clock: createRealClock() }), pool);
  } finally {
    await pool.end();
  }
}

/** The user's id (a UUID as given, or looked up by username); undefined when no such user. */
async function userId(pool: pg.Pool, user: string): Promise<string | undefined> {
  const { rows } = await pool.query<{ id: string }>(isUuid(user) ? 'SELECT id FROM users WHERE id = $1' : 'SELECT id FROM users WHERE username = $1', [
    isUuid(user) ? user.toLowerCase() : user,
  ]);
  return rows[0]?.id;
}

/** `chatd limit ...` */
export const limitCommand: CliCommand = {
  summary: 'set, show or remove a user\'s spend limit (micro-units per day, week or month)',
  usage: USAGE,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, { 'database-url': { type: 'string' } });
    const databaseUrl = values['database-url'] as string | undefined;
    const [sub, user, ...rest] = positionals;
    if (sub === undefined) throw new UsageError('a subcommand is required (set, get, clear)');
    if (!['set', 'get', 'clear'].includes(sub)) throw new UsageError(`unknown subcommand "${sub}"`);
    if (user === undefined) throw new UsageError('a user (ID or username) is required');
    let period: string | undefined;
    let micros: number | undefined;
    if (sub === 'set') {
      const [p, m, ...more] = rest;
      if (p === undefined || m === undefined) throw new UsageError(`a period (${SPEND_PERIODS.join(', ')}) and an amount in micro-units are required`);
      if (more.length > 0) throw new UsageError(`unexpected argument "${more[0]}"`);
      if (!(SPEND_PERIODS as readonly string[]).includes(p)) throw new UsageError(`unknown period "${p}" (one of ${SPEND_PERIODS.join(', ')})`);
      if (!/^\d+$/.test(m) || !Number.isSafeInteger(Number(m))) throw new UsageError(`the amount must be a non-negative integer of micro-units, got "${m}"`);
      period = p;
      micros = Number(m);
    } else if (rest.length > 0) {
      throw new UsageError(`unexpected argument "${rest[0]}"`);
    }
    return withStore(io, databaseUrl, async (store, pool) => {
      const id = await userId(pool, user);
      if (!id) {
        io.err(`chatd limit ${sub}: no user "${user}"`);
        return 1;
      }
      if (sub === 'set') {
        const limit = await store.setSpendLimit(id, period, micros);
        io.out(`spend limit of ${user}: ${limit.limit_micros} micro-units per ${limit.period}`);
        return 0;
      }
      if (sub === 'clear') {
        io.out((await store.clearSpendLimit(id)) ? `spend limit of ${user} removed` : `${user} had no spend limit`);
        return 0;
      }
      const state = await store.spendState(id);
      const limit = await store.getSpendLimit(id);
      if (!limit || !state) {
        io.out(`${user} has no spend limit`);
        return 0;
      }
      io.out(`${limit.limit_micros} micro-units per ${limit.period}; spent ${state.spent_micros}; resets at ${state.resets_at}`);
      return 0;
    }).catch((err: unknown) => {
      if (err instanceof ChatdError && err.code === 'INVALID_INPUT') throw new UsageError(err.message);
      throw err;
    });
  },
};
