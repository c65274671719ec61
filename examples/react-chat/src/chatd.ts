// The page's one chatd client and transport. The client talks to the page's own origin: the app's server (here
// Vite's dev/preview proxy, vite.config.ts) forwards /api to chatd with the token, so the browser holds none.
import { ChatdChatTransport } from '@chatd/ai-sdk';

/** `?transport=websocket` streams over a WebSocket; SSE (the transport's default) otherwise. */
const wanted = new URLSearchParams(window.location.search).get('transport');

/** Discontinuities the transport followed (a lost run re-run elsewhere); the page shows the latest. */
export const resyncListeners = new Set<(reason: string) => void>();

// No baseUrl or token: the page's origin, whose server adds the token.
export const transport = new ChatdChatTransport({
  transport: wanted === 'websocket' ? 'websocket' : 'sse',
  onResync: ({ reason }) => {
    for (const listener of resyncListeners) listener(reason);
  },
});

/** The transport's chatd client, for createChat and loadUIMessages. */
export const client = transport.client;

/** The chat id in the URL (`?chat=`), so a reload resumes the same chat. */
export function chatIdFromUrl(): string | undefined {
  return new URLSearchParams(window.location.search).get('chat') ?? undefined;
}

/** Puts `chatId` in the URL without reloading (keeping other parameters such as `transport`). */
export function putChatIdInUrl(chatId: string | undefined): void {
  const url = new URL(window.location.href);
  if (chatId) url.searchParams.set('chat', chatId);
  else url.searchParams.delete('chat');
  window.history.pushState(null, '', url);
}
