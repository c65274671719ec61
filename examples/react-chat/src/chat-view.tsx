// One chat behind useChat (the model was picked when the chat was created): the transport streams replies (resuming one in flight on mount), Stop interrupts the
// run on the server, regenerate replaces the last reply, and a confirm call is answered with addToolOutput, after
// which lastAssistantMessageIsCompleteWithToolCalls sends the result on by itself.
import { useChat } from '@ai-sdk/react';
import { lastAssistantMessageIsCompleteWithToolCalls, type UIMessage } from 'ai';
import { useEffect, useState } from 'react';
import { resyncListeners, transport } from './chatd';
import { CONFIRM_TOOL } from './confirm-tool';
import { MessageView } from './message-view';

type Props = { chatId: string; initialMessages: UIMessage[] };

export function ChatView({ chatId, initialMessages }: Props) {
  const { messages, status, error, sendMessage, stop, regenerate, addToolOutput } = useChat({
    id: chatId,
    messages: initialMessages,
    resume: true,
    transport,
    sendAutomaticallyWhen: lastAssistantMessageIsCompleteWithToolCalls,
  });
  const [text, setText] = useState('');
  const [resync, setResync] = useState<string | undefined>();
  const busy = status === 'submitted' || status === 'streaming';
  const lastAssistant = messages.findLastIndex((m) => m.role === 'assistant');

  useEffect(() => {
    resyncListeners.add(setResync);
    return () => void resyncListeners.delete(setResync);
  }, []);

  return (
    <section className="chat" data-testid="chat" data-chat-id={chatId}>
      <p className="meta">
        chat <code data-testid="chat-id">{chatId}</code> · <span data-testid="chat-status">{status}</span>
        {resync && (
          <span data-testid="resync" className="resync">
            {' '}
            · resynced ({resync})
          </span>
        )}
      </p>
      <ol className="messages" data-testid="messages">
        {messages.map((m, i) => (
          <MessageView
            key={m.id}
            message={m}
            canRegenerate={i === lastAssistant && i === messages.length - 1 && !busy}
            onRegenerate={() => void regenerate()}
            onConfirm={(toolCallId, answer) => void addToolOutput({ tool: CONFIRM_TOOL, toolCallId, output: answer })}
          />
        ))}
      </ol>
      {error && (
        <p className="error" data-testid="chat-error">
          {error.message}
        </p>
      )}
      <form
        className="composer"
        onSubmit={(e) => {
          e.preventDefault();
          if (!text.trim() || busy) return;
          void sendMessage({ text });
          setText('');
        }}
      >
        <textarea data-testid="composer-text" value={text} onChange={(e) => setText(e.target.value)} rows={2} placeholder="Message" />
        <div className="row">
          <span />
          {busy ? (
            <button type="button" data-testid="stop" onClick={() => void stop()}>
              Stop
            </button>
          ) : (
            <button type="submit" data-testid="send" disabled={!text.trim()}>
              Send
            </button>
          )}
        </div>
      </form>
    </section>
  );
}
