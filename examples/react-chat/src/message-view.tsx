// One UI message: text, reasoning and tool calls (server tools as call and result; the confirm client tool with
// Yes/No buttons while it waits for the person).
import { getToolName, isToolUIPart, type UIMessage } from 'ai';
import { CONFIRM_TOOL, confirmQuestion } from './confirm-tool';

type Props = {
  message: UIMessage;
  canRegenerate: boolean;
  onRegenerate: () => void;
  onConfirm: (toolCallId: string, answer: 'yes' | 'no') => void;
};

export function MessageView({ message, canRegenerate, onRegenerate, onConfirm }: Props) {
  return (
    <li className={`message ${message.role}`} data-testid="message" data-role={message.role} data-message-id={message.id}>
      <span className="role">{message.role}</span>
      {message.parts.map((part, i) => {
        if (part.type === 'text') {
          return (
            <span key={i} className="text" data-testid="text-part" data-state={part.state ?? 'done'}>
              {part.text}
            </span>
          );
        }
        if (part.type === 'reasoning') {
          return (
            <span key={i} className="reasoning" data-testid="reasoning-part">
              {part.text}
            </span>
          );
        }
        if (part.type === 'source-url') {
          return (
            <a key={i} className="source" data-testid="source-part" href={part.url} rel="noreferrer noopener" target="_blank">
              {part.title ?? part.url}
            </a>
          );
        }
        if (isToolUIPart(part)) {
          const name = getToolName(part);
          const waiting = name === CONFIRM_TOOL && part.state === 'input-available';
          return (
            <div key={i} className="tool" data-testid="tool-part" data-tool-name={name} data-tool-call-id={part.toolCallId} data-state={part.state}>
              <code className="tool-call">
                {name}({part.input === undefined ? '' : JSON.stringify(part.input)})
              </code>
              {waiting && (
                <span className="confirm">
                  {confirmQuestion(part.input)}{' '}
                  <button type="button" data-testid="confirm-yes" onClick={() => onConfirm(part.toolCallId, 'yes')}>
                    Yes
                  </button>{' '}
                  <button type="button" data-testid="confirm-no" onClick={() => onConfirm(part.toolCallId, 'no')}>
                    No
                  </button>
                </span>
              )}
              {part.state === 'output-available' && <code data-testid="tool-output">→ {JSON.stringify(part.output)}</code>}
              {part.state === 'output-error' && <code data-testid="tool-error">✗ {part.errorText}</code>}
            </div>
          );
        }
        return null;
      })}
      {canRegenerate && (
        <button type="button" className="regenerate" data-testid="regenerate" onClick={onRegenerate}>
          Regenerate
        </button>
      )}
    </li>
  );
}
