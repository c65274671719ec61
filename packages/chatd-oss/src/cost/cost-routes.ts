// The cost routes (contract.md#cost): `GET /{chat}/cost` (the chat's totals; another user's chat is a 404 like a
// missing one) and the admin spend-limit routes `GET|PUT|DELETE /users/{user}/spend-limit` (a user may read their
// own limit and where they stand).
import { z } from 'zod';
import { isUuid } from '@chatd/protocol';
import { ChatdError } from '../chatd-error.js';
import type { Identity } from '../identity/identity-store.js';
import type { ChatStore } from '../store/chat-store.js';
import type { RouteHandler } from '../server/chat-routes.js';
import { validationError } from '../server/error-response.js';
import { readJsonBody, sendEmpty, sendJson } from '../server/http-io.js';
import type { CostStore } from './cost-store.js';

/** What the cost routes need. */
export type CostRoutesDeps = { chats: Pick<ChatStore, 'getChat'>; costs: CostStore };

// Period and amount are checked by the store (400 with a validation per field); unknown fields are ignored.
/** The route's own parse of its body; contract.md#api-description takes @chatd/protocol's, and a test checks they agree. */
export const spendLimitBody = z.object({ period: z.unknown(), limit_micros: z.unknown() }).passthrough();

function uuidParam(raw: string | undefined, field: string): string {
  if (!raw || !isUuid(raw)) throw new ChatdError('INVALID_INPUT', `Invalid ${field} ID.`, { validations: [{ field, detail: 'must be a UUID' }] });
  return raw.toLowerCase();
}

function requireAdmin(who: Identity): void {
  if (!who.user.admin) throw new ChatdError('FORBIDDEN', 'Only administrators may change spend limits.');
}

/** Builds the cost routes. */
export function createCostRoutes(deps: CostRoutesDeps): { method: string; pattern: string[]; handler: RouteHandler }[] {
  const { costs } = deps;
  return [
    {
      method: 'GET',
      pattern: ['*', 'cost'],
      handler: async (_req, res, who, [id]) => {
        sendJson(res, 200, await costs.chatCost(uuidParam(id, 'chat'), who.user.id));
      },
    },
    {
      method: 'GET',
      pattern: ['users', '*', 'spend-limit'],
      handler: async (_req, res, who, [id]) => {
        const userId = uuidParam(id, 'user');
        if (!who.user.admin && who.user.id !== userId) throw new ChatdError('NOT_FOUND', 'Spend limit not found.');
        const limit = await costs.getSpendLimit(userId);
        if (!limit) throw new ChatdError('NOT_FOUND', 'Spend limit not found.');
        const state = await costs.spendState(userId);
        sendJson(res, 200, { ...limit, spent_micros: state?.spent_micros ?? 0, resets_at: state?.resets_at ?? null });
      },
    },
    {
      method: 'PUT',
      pattern: ['users', '*', 'spend-limit'],
      handler: async (req, res, who, [id]) => {
        requireAdmin(who);
        const userId = uuidParam(id, 'user');
        const r = spendLimitBody.safeParse(await readJsonBody(req));
        if (!r.success) throw validationError('Invalid request.', r.error);
        sendJson(res, 200, await costs.setSpendLimit(userId, r.data.period, r.data.limit_micros));
      },
    },
    {
      method: 'DELETE',
      pattern: ['users', '*', 'spend-limit'],
      handler: async (_req, res, who, [id]) => {
        requireAdmin(who);
        await costs.clearSpendLimit(uuidParam(id, 'user'));
        sendEmpty(res, 204);
      },
    },
  ];
}
