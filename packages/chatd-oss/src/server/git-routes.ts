// The git routes of a chat (issue 13): `PUT /{chat}/git`, which an agent calls after `git push` to report
// `{origin, branch}` (the chat becomes stale and the worker looks for its pull request), and
// `GET /{chat}/diff-status`, the chat's ChatDiffStatus (refreshed inline when stale, a zero-value status
// when the chat has none). Only the chat's owner may call them; anyone else gets the same 404 as a missing chat.
// Origins whose owner or repo segment is `.`/`..` are refused before anything is written or fetched, and a user
// over the refresh cap gets 429 with Retry-After (chat-git-sync decides that).
import { z } from 'zod';
import { unsafeBranchComponent, unsafeOriginSegment } from '@chatd/gitsync';
import { isUuid } from '@chatd/protocol';
import { ChatdError } from '../chatd-error.js';
import type { ChatGitSync } from '../gitsync/chat-git-sync.js';
import type { Identity } from '../identity/identity-store.js';
import type { ChatStore } from '../store/chat-store.js';
import type { RouteHandler } from './chat-routes.js';
import { validationError } from './error-response.js';
import { readJsonBody, sendEmpty, sendJson } from './http-io.js';

/** Longest origin URL accepted. */
export const MAX_GIT_ORIGIN_CHARS = 2048;
/** Longest branch name accepted. */
export const MAX_GIT_BRANCH_CHARS = 255;

/** What the git routes need. */
export type GitRoutesDeps = {
  chats: Pick<ChatStore, 'getChat'>;
  gitsync: Pick<ChatGitSync, 'reportGitRef' | 'diffStatus' | 'takeRefresh'>;
};

// No whitespace or control characters: neither an origin URL nor a git ref name can hold them (emptiness is min's job).
const NO_SPACE = /^[^\s\p{Cc}]*$/u;

/** Body of `PUT /{chat}/git`. */
export const gitRefBodySchema = z
  .object({
    // Checked on the raw text: `.`/`..` owners or repos (plain or percent-encoded) would reach other API paths.
    origin: z
      .string()
      .trim()
      .min(1, 'must not be empty')
      .max(MAX_GIT_ORIGIN_CHARS)
      .regex(NO_SPACE, 'must not contain whitespace')
      .refine((o) => o === '' || unsafeOriginSegment(o) === undefined, { message: 'owner and repository path segments must not be empty, "." or ".." (also percent-encoded)' }),
    branch: z
      .string()
      .trim()
      .min(1, 'must not be empty')
      .max(MAX_GIT_BRANCH_CHARS)
      .regex(NO_SPACE, 'must not contain whitespace')
      .refine((b) => b === '' || unsafeBranchComponent(b) === undefined, { message: 'must be a valid git branch name (no empty components, none starting with ".", no "..")' }),
  })
  .passthrough();

/** Builds the route entries (same shape as the chat routes' table). */
export function createGitRoutes(deps: GitRoutesDeps): { method: string; pattern: string[]; handler: RouteHandler }[] {
  const ownedChat = async (rawId: string | undefined, who: Identity) => {
    if (!rawId || !isUuid(rawId)) throw new ChatdError('INVALID_INPUT', 'Invalid chat ID.', { validations: [{ field: 'chat', detail: 'must be a UUID' }] });
    const chat = await deps.chats.getChat(rawId.toLowerCase(), who.user.id);
    if (!chat) throw new ChatdError('NOT_FOUND', 'chat not found');
    return chat;
  };

  return [
    {
      method: 'PUT',
      pattern: ['*', 'git'],
      handler: async (req, res, who, [id]) => {
        const chat = await ownedChat(id, who);
        const parsed = gitRefBodySchema.safeParse(await readJsonBody(req));
        if (!parsed.success) throw validationError('Invalid git reference.', parsed.error);
        // Every report makes the worker call the provider: capped per user, after validation so bad input costs nothing.
        const allowance = deps.gitsync.takeRefresh(who.user.id, 'report');
        if (!allowance.allowed) {
          throw new ChatdError('RATE_LIMITED', 'Too many git status refreshes.', {
            detail: 'Each user may report pushes (and refresh statuses) a limited number of times per minute; retry after the Retry-After delay.',
            retryAfterMs: allowance.retryAfterMs,
          });
        }
        await deps.gitsync.reportGitRef(chat, { origin: parsed.data.origin, branch: parsed.data.branch });
        sendEmpty(res, 204);
      },
    },
    {
      method: 'GET',
      pattern: ['*', 'diff-status'],
      handler: async (_req, res, who, [id]) => {
        const chat = await ownedChat(id, who);
        sendJson(res, 200, await deps.gitsync.diffStatus(chat, { canRefresh: () => deps.gitsync.takeRefresh(who.user.id, 'inline').allowed }));
      },
    },
  ];
}
