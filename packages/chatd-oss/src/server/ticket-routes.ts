// Minting socket tickets (contract.md#tickets): `POST /{chat}/stream-ticket` for one chat's stream (WebSocket or
// SSE) and `POST /watch-ticket` for the watch and inbox sockets. Authenticated as any route; a stream ticket only
// for a chat the caller may read (404 otherwise, as for the chat itself). Redeeming is the server's (auth-guard).
import { ChatdError } from '../chatd-error.js';
import type { SocketTicketStore } from '../identity/socket-ticket-store.js';
import type { ChatStore } from '../store/chat-store.js';
import type { RouteHandler } from './chat-routes.js';
import { sendJson } from './http-io.js';

/** Dependencies of `createTicketRoutes`. */
export type TicketRoutesDeps = { chats: Pick<ChatStore, 'getChat'>; tickets: SocketTicketStore };

/** The ticket routes; mount them before the chat routes (`/watch-ticket` would otherwise read as a chat id). */
export function createTicketRoutes(deps: TicketRoutesDeps): { method: string; pattern: string[]; handler: RouteHandler }[] {
  return [
    {
      method: 'POST',
      pattern: ['*', 'stream-ticket'],
      handler: async (_req, res, who, [raw]) => {
        if (!/^[0-9a-fA-F-]{36}$/.test(raw ?? '')) throw new ChatdError('INVALID_INPUT', 'Invalid chat ID.');
        const chatId = raw!.toLowerCase();
        const chat = await deps.chats.getChat(chatId, who.user.id);
        if (!chat) throw new ChatdError('NOT_FOUND', 'chat not found');
        const { ticket, expiresAt } = await deps.tickets.mint(who, { kind: 'stream', chatId });
        sendJson(res, 200, { ticket, expires_at: expiresAt });
      },
    },
    {
      method: 'POST',
      pattern: ['watch-ticket'],
      handler: async (_req, res, who) => {
        const { ticket, expiresAt } = await deps.tickets.mint(who, { kind: 'watch' });
        sendJson(res, 200, { ticket, expires_at: expiresAt });
      },
    },
  ];
}
