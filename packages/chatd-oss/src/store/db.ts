// Small PostgreSQL helpers shared by the stores: a pool from a connection string, and `inTransaction`,
// which runs a function on one client between BEGIN and COMMIT (ROLLBACK on any throw). Int8 columns are
// read as text by `pg`; the stores convert message ids themselves, so no global type parser is touched.
import pg from 'pg';
import { ChatdError } from '../chatd-error.js';
import { transactionBegin } from '../telemetry/transaction-begin.js';

/** Connections a store pool opens at most. @default 10 */
export const DEFAULT_POOL_SIZE = 10;

/** A client or pool: anything with `query`. */
export type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient;

/**
 * Connections of a replica's second pool, whose sessions plan prepared statements once (`force_generic_plan`); the
 * subscription setup runs there (issue 36). @default 4
 */
export const GENERIC_PLAN_POOL_SIZE = 4;

/** Options of `createPool`. */
export type PoolOptions = {
  /**
   * Sessions use `plan_cache_mode = force_generic_plan`: a named statement is planned once per connection and its
   * plan reused, where PostgreSQL would otherwise plan it again on every call when it estimates a custom plan
   * cheaper. Only for named statements whose plan does not depend on the values (it applies to every parameterised
   * statement of the session). @default false
   */
  genericPlans?: boolean;
};

/** Creates a pool for `connectionString` whose idle-client errors are swallowed (the next query reports them). */
export function createPool(connectionString: string, max: number = DEFAULT_POOL_SIZE, options: PoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({ connectionString, max, ...(options.genericPlans ? { options: '-c plan_cache_mode=force_generic_plan' } : {}) });
  pool.on('error', () => {});
  return pool;
}

/** Attempts of a transaction that PostgreSQL aborted as a deadlock victim or serialization failure. @default 3 */
export const TRANSACTION_ATTEMPTS = 3;

const RETRYABLE_STATES = new Set(['40P01', '40001']);

/**
 * Runs `fn` in one transaction on one client of `pool`; rolls back and rethrows when it throws. A
 * transaction chosen as a deadlock victim (e.g. an admin deleting a model configuration while messages
 * referencing it are inserted) is retried from the start, so `fn` must have no effect outside the database.
 */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
  return retryingDeadlocks(() => runTransaction(pool, fn, options));
}

/** Options of `inTransaction`. */
export type TransactionOptions = {
  /**
   * A statement without parameters sent with BEGIN in one round trip (the simple query protocol runs both), e.g.
   * the acquisition's advisory lock: one round trip less per transaction.
   */
  withBegin?: string;
};

/**
 * Runs `attempt` again (up to TRANSACTION_ATTEMPTS times in all) while PostgreSQL aborts it as a deadlock victim or
 * serialization failure: for a transaction, or a single statement that is its own. `attempt` must have no effect
 * outside the database.
 */
export async function retryingDeadlocks<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      const state = sqlState(err);
      if (attempt >= TRANSACTION_ATTEMPTS || state === undefined || !RETRYABLE_STATES.has(state)) throw err;
    }
  }
}

async function runTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>, options: TransactionOptions): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  // The pool stops listening for errors on a client it hands out: a connection lost between two queries of
  // the transaction (a database restart) would emit an unhandled 'error' and crash the process.
  const onError = () => {
    broken = true;
  };
  client.on('error', onError);
  try {
    await client.query(options.withBegin === undefined ? transactionBegin() : `${transactionBegin()}; ${options.withBegin}`);
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    try {
      await client.query('ROLLBACK');
    } catch {
      broken = true;
    }
    throw err;
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}

/** The PostgreSQL error code (SQLSTATE) of `err`, if any. */
export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Maps constraint violations to ChatdError codes; other errors pass through unchanged. */
export function mapDbError(err: unknown, messages: { foreignKey?: string; unique?: string; check?: string } = {}): unknown {
  const state = sqlState(err);
  if (state === '23503' && messages.foreignKey) return new ChatdError('INVALID_INPUT', messages.foreignKey, { cause: err });
  if (state === '23505' && messages.unique) return new ChatdError('CONFLICT', messages.unique, { cause: err });
  if ((state === '23514' || state === '22001' || state === '22P02') && messages.check) return new ChatdError('INVALID_INPUT', messages.check, { cause: err });
  return err;
}
