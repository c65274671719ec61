// Reads by key that concurrent callers share (issue 36): every step of every run reads its owner's spend state
// (contract.md#cost) before calling the model, so a pass starting a hundred runs of one user sent a hundred equal
// reads. Per key, at most one read is in flight; callers arriving meanwhile share the next one, sent when it ends.
// A caller is only ever answered by a read sent after it asked, so it sees everything committed before it asked.
// An idle key's read is sent at once: nothing waits when there is no company.

/** Reads `V` by key, shared by concurrent callers. */
export interface CoalescedRead<V> {
  read(key: string): Promise<V>;
}

type Next<V> = { promise: Promise<V>; resolve: (v: V) => void; reject: (err: unknown) => void };

/** Wraps `readOne`, which must not depend on who asks. */
export function createCoalescedRead<V>(readOne: (key: string) => Promise<V>): CoalescedRead<V> {
  const keys = new Map<string, { next: Next<V> | undefined }>();

  function send(key: string, entry: { next: Next<V> | undefined }): void {
    const current = entry.next!;
    entry.next = undefined;
    readOne(key).then(current.resolve, current.reject).finally(() => {
      if (entry.next) send(key, entry);
      else keys.delete(key);
    });
  }

  return {
    read(key) {
      let entry = keys.get(key);
      if (entry?.next) return entry.next.promise;
      let resolve!: (v: V) => void;
      let reject!: (err: unknown) => void;
      const promise = new Promise<V>((res, rej) => ((resolve = res), (reject = rej)));
      const next = { promise, resolve, reject };
      if (entry) {
        entry.next = next; // a read is in flight: this one is sent when it ends
        return promise;
      }
      entry = { next };
      keys.set(key, entry);
      send(key, entry);
      return promise;
    },
  };
}
