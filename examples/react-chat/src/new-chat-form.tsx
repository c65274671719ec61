import { useState } from 'react';
import type { ModelConfig } from './model-configs';
import { ModelPicker } from './model-picker';

type Props = { configs: ModelConfig[]; onStart: (content: string, modelConfigId: string) => Promise<void> };

/** The first message of a new chat (chatd creates a chat with its first message). */
export function NewChatForm({ configs, onStart }: Props) {
  const [text, setText] = useState('');
  const [model, setModel] = useState('');
  const [busy, setBusy] = useState(false);
  return (
    <form
      className="composer"
      onSubmit={(e) => {
        e.preventDefault();
        if (!text.trim() || busy) return;
        setBusy(true);
        void onStart(text, model).finally(() => setBusy(false));
      }}
    >
      <textarea data-testid="new-chat-text" value={text} onChange={(e) => setText(e.target.value)} placeholder="Start a chat (try: call get_time, or call confirm {&quot;question&quot;:&quot;Deploy?&quot;})" rows={3} />
      <div className="row">
        <ModelPicker configs={configs} value={model} onChange={setModel} />
        <button type="submit" data-testid="new-chat-submit" disabled={busy || !text.trim()}>
          Start chat
        </button>
      </div>
    </form>
  );
}
