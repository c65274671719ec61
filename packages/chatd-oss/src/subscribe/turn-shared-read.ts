// Reads shared by the subscribers of one replica within one event-loop turn: callers asking for the same key
// in the same turn share one read, started at the end of the turn. A read is joined only before it starts, so
// it always begins after whatever made each caller ask (a notification, and so the commit it announced): a
// shared read is never earlier than the caller's own read would have been, only fewer.

/** Counters of a shared reader. */
export type TurnSharedReadCounters = {
  /** Reads started. */
  started: number;
  /** Calls served by a read another caller started in the same turn. */
  shared: number;
};

/** Returns `read()`'s result for `key`, shared with every other call for `key` in this turn. */
export type TurnSharedRead<T> = ((key: string, read: () => Promise<T>) => Promise<T>) & { readonly counters: TurnSharedReadCounters };

/** Creates a shared reader (one per kind of read). The result is shared: callers must not change it. */
export function createTurnSharedRead<T>(): TurnSharedRead<T> {
  const pending = new Map<string, Promise<T>>();
  const counters: TurnSharedReadCounters = { started: 0, shared: 0 };
  const sharedRead = (key: string, read: () => Promise<T>): Promise<T> => {
    const joined = pending.get(key);
    if (joined) {
      counters.shared++;
      return joined;
    }
    const p = new Promise<T>((resolve, reject) => {
      setImmediate(() => {
        pending.delete(key);
        counters.started++;
        read().then(resolve, reject);
      });
    });
    pending.set(key, p);
    return p;
  };
  return Object.assign(sharedRead, { counters });
}
