// The AI SDK's own Chat (AbstractChat, what useChat wraps) with its state in memory, for driving the transport as a
// page does: sendMessage, stop, resumeStream, regenerate, addToolOutput and sendAutomaticallyWhen.
import { AbstractChat, type ChatInit, type ChatState, type ChatStatus, type UIMessage } from 'ai';

class MemoryChatState implements ChatState<UIMessage> {
  status: ChatStatus = 'ready';
  error: Error | undefined = undefined;
  constructor(public messages: UIMessage[]) {}
  pushMessage = (m: UIMessage) => {
    this.messages = [...this.messages, m];
  };
  popMessage = () => {
    this.messages = this.messages.slice(0, -1);
  };
  replaceMessage = (i: number, m: UIMessage) => {
    const next = [...this.messages];
    next[i] = m;
    this.messages = next;
  };
  snapshot = <T>(thing: T): T => structuredClone(thing);
}

export class TestChat extends AbstractChat<UIMessage> {
  constructor(init: ChatInit<UIMessage>) {
    const { messages = [], ...rest } = init;
    super({ ...rest, state: new MemoryChatState(messages) });
  }
}
