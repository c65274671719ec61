// The documented flow: create the chat (createChat; in a real app on the server), load its history as UI messages
// (loadUIMessages), then hand both to useChat with resume on. The chat id lives in the URL, so a reload resumes.
import { createChat, loadUIMessages } from '@chatd/ai-sdk';
import type { UIMessage } from 'ai';
import { useCallback, useEffect, useState } from 'react';
import { ChatView } from './chat-view';
import { chatIdFromUrl, client, putChatIdInUrl } from './chatd';
import { CONFIRM_TOOL_DECLARATION } from './confirm-tool';
import { useModelConfigs } from './model-configs';
import { NewChatForm } from './new-chat-form';

type Loaded = { chatId: string; messages: UIMessage[] };

export function App() {
  const [chatId, setChatId] = useState(chatIdFromUrl);
  const [loaded, setLoaded] = useState<Loaded | undefined>();
  const [error, setError] = useState<string | undefined>();
  const configs = useModelConfigs();

  useEffect(() => {
    const onPop = () => setChatId(chatIdFromUrl());
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);

  useEffect(() => {
    if (!chatId) return;
    let live = true;
    loadUIMessages(client, chatId)
      .then((messages) => live && setLoaded({ chatId, messages }))
      .catch((err: unknown) => live && setError(err instanceof Error ? err.message : String(err)));
    return () => {
      live = false;
    };
  }, [chatId]);

  const start = useCallback(async (content: string, modelConfigId: string) => {
    setError(undefined);
    try {
      const chat = await createChat(client, { content, tools: [CONFIRM_TOOL_DECLARATION], ...(modelConfigId ? { model_config_id: modelConfigId } : {}) });
      putChatIdInUrl(chat.id);
      setChatId(chat.id);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  }, []);

  const leave = useCallback(() => {
    putChatIdInUrl(undefined);
    setChatId(undefined);
    setLoaded(undefined);
  }, []);

  return (
    <main>
      <header>
        <h1>chatd + useChat</h1>
        {chatId && (
          <button type="button" data-testid="new-chat" onClick={leave}>
            New chat
          </button>
        )}
      </header>
      {error && (
        <p className="error" data-testid="app-error">
          {error}
        </p>
      )}
      {!chatId && <NewChatForm configs={configs} onStart={start} />}
      {chatId && loaded?.chatId === chatId && <ChatView key={chatId} chatId={chatId} initialMessages={loaded.messages} />}
      {chatId && loaded?.chatId !== chatId && !error && <p data-testid="loading">Loading…</p>}
    </main>
  );
}
