// The cost ledger and spend limits (contract.md#cost): one `chat_model_calls` row per model call that reported
// usage, priced with its configuration's prices at the time of the call (null when unpriced); spend limits per
// user in `chat_spend_limits`. A user's spend in a period is the sum of the ledger rows of their chats since the
// period's start, so every replica reads the same figure.
import type pg from 'pg';
import type { Clock } from '@chatd/clock';
import type { ChatMessageUsage } from '@chatd/protocol';
import { ChatdError } from '../chatd-error.js';
import { requireUuid } from '../store/chat-input.js';
import { callCostMicros, callTokens, parseModelPricing, type ModelPricing } from './model-pricing.js';
import { parseSpendPeriod, periodBounds, type SpendPeriod } from './spend-period.js';

/** `GET /{chat}/cost`. */
export type ChatCost = { chat_id: string; total_cost_micros: number; request_count: number; unpriced_request_count: number };

/** A user's spend limit as the admin routes answer it. */
export type SpendLimit = { user_id: string; period: SpendPeriod; limit_micros: number; updated_at: string };

/** Where a user stands against their limit (the 409 body's figures); `exceeded` once spent >= limit. */
export type SpendState = { spent_micros: number; limit_micros: number; resets_at: string; exceeded: boolean };

/** One model call to record. */
export type ModelCallInput = { chatId: string; runId?: string; modelConfigId?: string | null; usage: ChatMessageUsage; runtimeMs: number };

/** The ledger and spend limits. Rejects with `ChatdError` on bad input, writing nothing. */
export interface CostStore {
  /** Records one call; its cost in micro-units, or null when its configuration has no prices. */
  recordModelCall(input: ModelCallInput): Promise<{ costMicros: number | null }>;
  /** A chat's totals (NOT_FOUND for an unknown chat or, with `ownerId`, another user's). */
  chatCost(chatId: string, ownerId?: string): Promise<ChatCost>;
  /** Sets (replaces) a user's limit (NOT_FOUND for an unknown user). */
  setSpendLimit(userId: string, period: unknown, limitMicros: unknown): Promise<SpendLimit>;
  /** Removes a user's limit; false when there was none. */
  clearSpendLimit(userId: string): Promise<boolean>;
  /** The user's limit, if any. */
  getSpendLimit(userId: string): Promise<SpendLimit | undefined>;
  /** Where the user stands in the current period; undefined without a limit. */
  spendState(userId: string): Promise<SpendState | undefined>;
  /** Throws SPEND_LIMIT (409 with the figures) when the user's spend reached their limit. */
  assertWithinLimit(userId: string): Promise<void>;
}

/** Options of `createCostStore`. */
export type CostStoreOptions = { pool: pg.Pool; clock: Clock };

type LimitRow = { user_id: string; period: SpendPeriod; limit_micros: string; updated_at: Date };

const toLimit = (r: LimitRow): SpendLimit => ({ user_id: r.user_id, period: r.period, limit_micros: Number(r.limit_micros), updated_at: r.updated_at.toISOString() });

/** Creates the PostgreSQL cost store. */
export function createCostStore(options: CostStoreOptions): CostStore {
  const { pool, clock } = options;

  const getSpendLimit = async (userId: string): Promise<SpendLimit | undefined> => {
    const id = requireUuid(userId, 'user ID');
    const { rows } = await pool.query<LimitRow>('SELECT user_id, period, limit_micros, updated_at FROM chat_spend_limits WHERE user_id = $1', [id]);
    return rows[0] ? toLimit(rows[0]) : undefined;
  };

  const spendState = async (userId: string): Promise<SpendState | undefined> => {
    const limit = await getSpendLimit(userId);
    if (!limit) return undefined;
    const { start, resetsAt } = periodBounds(limit.period, clock.now());
    const { rows } = await pool.query<{ spent: string }>(
      `SELECT coalesce(sum(cost_micros), 0) AS spent FROM chat_model_calls WHERE owner_id = $1 AND created_at >= $2 AND created_at < $3`,
      [limit.user_id, start, resetsAt],
    );
    const spent = Number(rows[0]?.spent ?? 0);
    return { spent_micros: spent, limit_micros: limit.limit_micros, resets_at: resetsAt.toISOString(), exceeded: spent >= limit.limit_micros };
  };

  return {
    async recordModelCall(input) {
      const chatId = requireUuid(input.chatId, 'chat ID');
      const tokens = callTokens(input.usage);
      const { rows } = await pool.query<{ owner_id: string; pricing: unknown }>(
        `SELECT c.owner_id, m.pricing FROM chats c LEFT JOIN chat_model_configs m ON m.id = $2 WHERE c.id = $1`,
        [chatId, input.modelConfigId ?? null],
      );
      const row = rows[0];
      if (!row) throw new ChatdError('NOT_FOUND', 'Chat not found.');
      // Read through the same validation as the routes: a hand-edited row cannot price a call oddly.
      let pricing: ModelPricing | null = null;
      try {
        pricing = row.pricing === null || row.pricing === undefined ? null : parseModelPricing(row.pricing);
      } catch {
        pricing = null;
      }
      const costMicros = pricing ? callCostMicros(pricing, tokens) : null;
      await pool.query(
        `INSERT INTO chat_model_calls (chat_id, owner_id, run_id, model_config_id, input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, cost_micros, runtime_ms, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        [
          chatId,
          row.owner_id,
          input.runId ?? null,
          input.modelConfigId ?? null,
          tokens.input,
          tokens.output,
          tokens.cachedInput,
          tokens.reasoning,
          costMicros,
          Math.max(0, Math.round(input.runtimeMs)),
          clock.now(),
        ],
      );
      return { costMicros };
    },

    async chatCost(chatId, ownerId) {
      const id = requireUuid(chatId, 'chat ID');
      const owner = ownerId === undefined ? undefined : requireUuid(ownerId, 'user ID');
      const { rows } = await pool.query<{ total: string; requests: string; unpriced: string }>(
        `SELECT coalesce(sum(k.cost_micros), 0) AS total, count(k.id) AS requests, count(k.id) FILTER (WHERE k.cost_micros IS NULL) AS unpriced
           FROM chats c LEFT JOIN chat_model_calls k ON k.chat_id = c.id
          WHERE c.id = $1 AND ($2::uuid IS NULL OR c.owner_id = $2) GROUP BY c.id`,
        [id, owner ?? null],
      );
      const r = rows[0];
      if (!r) throw new ChatdError('NOT_FOUND', 'Chat not found.');
      return { chat_id: id, total_cost_micros: Number(r.total), request_count: Number(r.requests), unpriced_request_count: Number(r.unpriced) };
    },

    async setSpendLimit(userId, period, limitMicros) {
      const id = requireUuid(userId, 'user ID');
      const p = parseSpendPeriod(period);
      if (typeof limitMicros !== 'number' || !Number.isSafeInteger(limitMicros) || limitMicros < 0) {
        throw new ChatdError('INVALID_INPUT', 'Invalid spend limit.', { validations: [{ field: 'limit_micros', detail: 'must be a non-negative integer' }] });
      }
      const { rows: users } = await pool.query('SELECT 1 FROM users WHERE id = $1', [id]);
      if (users.length === 0) throw new ChatdError('NOT_FOUND', 'User not found.');
      const { rows } = await pool.query<LimitRow>(
        `INSERT INTO chat_spend_limits (user_id, period, limit_micros, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id) DO UPDATE SET period = EXCLUDED.period, limit_micros = EXCLUDED.limit_micros, updated_at = EXCLUDED.updated_at
         RETURNING user_id, period, limit_micros, updated_at`,
        [id, p, limitMicros, clock.now()],
      );
      return toLimit(rows[0]!);
    },

    async clearSpendLimit(userId) {
      const id = requireUuid(userId, 'user ID');
      const res = await pool.query('DELETE FROM chat_spend_limits WHERE user_id = $1', [id]);
      return (res.rowCount ?? 0) > 0;
    },

    getSpendLimit,
    spendState,

    async assertWithinLimit(userId) {
      const state = await spendState(userId);
      if (!state?.exceeded) return;
      throw new ChatdError('SPEND_LIMIT', 'You have reached your spend limit.', {
        spend: { spent_micros: state.spent_micros, limit_micros: state.limit_micros, resets_at: state.resets_at },
      });
    },
  };
}
