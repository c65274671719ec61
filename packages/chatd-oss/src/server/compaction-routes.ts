// The routes of compaction and titles (contract.md#compaction): `POST /{chat}/compact` (202; the chat's next run
// compacts, a resting chat is set pending for a run that only compacts), `POST /{chat}/title/propose` (`{title}`,
// nothing stored) and the admin deployment settings `GET|PATCH /config`. Another user's chat is a 404 like a
// missing one; the store and the titler do the work.
import { z } from 'zod';
import { isUuid } from '@chatd/protocol';
import { ChatdError } from '../chatd-error.js';
import type { Identity } from '../identity/identity-store.js';
import type { ChatPublisher } from '../publish/chat-publisher.js';
import type { ChatStore } from '../store/chat-store.js';
import type { CompactionStore } from '../store/compaction-store.js';
import { DEPLOYMENT_CONFIG_KEYS, type DeploymentConfigPatch, type DeploymentConfigStore } from '../store/deployment-config-store.js';
import type { ChatTitler } from '../worker/chat-title.js';
import type { RouteHandler } from './chat-routes.js';
import { validationError } from './error-response.js';
import { readJsonBody, sendEmpty, sendJson } from './http-io.js';

/** What the compaction routes need. */
export type CompactionRoutesDeps = {
  chats: Pick<ChatStore, 'getChat'>;
  publisher: ChatPublisher;
  compaction: CompactionStore;
  deploymentConfig: DeploymentConfigStore;
  titler: ChatTitler;
};

// Unknown fields are ignored, as in every body; ids are checked by the store (400 with a validation per field).
/** The route's own parse of its body; contract.md#api-description takes @chatd/protocol's, and a test checks they agree. */
export const configBody = z
  .object({
    title_model_config_id: z.string().nullable().optional(),
    compaction_model_config_id: z.string().nullable().optional(),
  })
  .passthrough();

function chatIdParam(raw: string | undefined): string {
  if (!raw || !isUuid(raw)) throw new ChatdError('INVALID_INPUT', 'Invalid chat ID.', { validations: [{ field: 'chat', detail: 'must be a UUID' }] });
  return raw.toLowerCase();
}

function requireAdmin(who: Identity): void {
  if (!who.user.admin) throw new ChatdError('FORBIDDEN', 'Only administrators may change deployment settings.');
}

/** The route table of compaction and titles; mount it before the chat routes (`/config` would match `/{chat}`). */
export function createCompactionRoutes(deps: CompactionRoutesDeps): { method: string; pattern: string[]; handler: RouteHandler }[] {
  return [
    {
      method: 'GET',
      pattern: ['config'],
      handler: async (_req, res, who) => {
        requireAdmin(who);
        sendJson(res, 200, await deps.deploymentConfig.get());
      },
    },
    {
      method: 'PATCH',
      pattern: ['config'],
      handler: async (req, res, who) => {
        requireAdmin(who);
        const r = configBody.safeParse(await readJsonBody(req));
        if (!r.success) throw validationError('Invalid deployment settings.', r.error);
        const patch: DeploymentConfigPatch = {};
        for (const key of DEPLOYMENT_CONFIG_KEYS) if (r.data[key] !== undefined) patch[key] = r.data[key];
        if (Object.keys(patch).length === 0) {
          throw new ChatdError('INVALID_INPUT', 'Nothing to change.', { detail: `Give any of ${DEPLOYMENT_CONFIG_KEYS.join(', ')}.` });
        }
        sendJson(res, 200, await deps.deploymentConfig.update(patch));
      },
    },
    {
      method: 'POST',
      pattern: ['*', 'compact'],
      handler: async (_req, res, who, [id]) => {
        const chatId = chatIdParam(id);
        const { change } = await deps.compaction.requestCompaction({ chatId, ownerId: who.user.id });
        if (change) await deps.publisher.publishChange(change);
        sendEmpty(res, 202);
      },
    },
    {
      method: 'POST',
      pattern: ['*', 'title', 'propose'],
      handler: async (req, res, who, [id]) => {
        const chatId = chatIdParam(id);
        const chat = await deps.chats.getChat(chatId, who.user.id);
        if (!chat) throw new ChatdError('NOT_FOUND', 'chat not found');
        // The request is cancelled with the client's connection.
        const controller = new AbortController();
        res.once('close', () => controller.abort(new Error('client closed the request')));
        const { title } = await deps.titler.propose(chat, controller.signal);
        sendJson(res, 200, { title });
      },
    },
  ];
}
