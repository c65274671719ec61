// The runs' control checks of one worker, read together (issue 36): each run re-reads its chat's run state when it
// starts (an interrupt may have landed before its subscription was live) and on every hint that may mean "stop".
// A pass that starts a hundred runs sent a hundred one-row reads; they now share one statement. At most one read is
// in flight: requests arriving meanwhile wait for it to end and go together in the next one, so a request is only
// ever answered by a read sent after it was made (a check never sees a state older than its hint). Idle, a request
// waits one event-loop turn for company.
import type { ChatRunState, ChatStore } from '../store/chat-store.js';
import { RUN_STATE_BATCH_SIZE } from '../store/chat-store.js';

/** Reads a chat's run state, batched with the other requests of the moment. */
export interface RunStateReader {
  read(chatId: string): Promise<ChatRunState | undefined>;
}

type Waiter = { resolve: (state: ChatRunState | undefined) => void; reject: (err: unknown) => void };

/** Creates a reader over `store.getChatRunStates`, `maxBatch` chats per statement at most. */
export function createRunStateReader(store: Pick<ChatStore, 'getChatRunStates'>, maxBatch: number = RUN_STATE_BATCH_SIZE): RunStateReader {
  let pending = new Map<string, Waiter[]>();
  let busy = false;

  async function flush(): Promise<void> {
    while (pending.size > 0) {
      const batch = new Map<string, Waiter[]>();
      for (const [chatId, waiters] of pending) {
        if (batch.size >= maxBatch) break;
        batch.set(chatId, waiters);
      }
      for (const chatId of batch.keys()) pending.delete(chatId);
      try {
        const states = await store.getChatRunStates([...batch.keys()]);
        for (const [chatId, waiters] of batch) for (const w of waiters) w.resolve(states.get(chatId));
      } catch (err) {
        for (const waiters of batch.values()) for (const w of waiters) w.reject(err);
      }
    }
    busy = false;
  }

  return {
    read(chatId) {
      return new Promise((resolve, reject) => {
        const waiters = pending.get(chatId);
        if (waiters) waiters.push({ resolve, reject });
        else pending.set(chatId, [{ resolve, reject }]);
        if (busy) return;
        busy = true;
        setImmediate(() => void flush());
      });
    },
  };
}
