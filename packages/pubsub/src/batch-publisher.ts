// Publishing through the pool in batches. Every NOTIFY commit takes PostgreSQL's global notify-queue
// lock, so commits serialize server-side and one-notification-per-commit tops out early. Publishes that
// queue up while the lanes are busy are therefore sent together as one simple-protocol query
// (`NOTIFY a, '...'; NOTIFY b, '...'`), which PostgreSQL runs as one implicit transaction: one commit
// for the lot, delivered in order, all or nothing.
//
// Ordering: a channel is in at most one batch in flight, so notifications on one channel are committed
// (and delivered) in publish-call order even when the calls are not awaited; different channels may
// interleave. A batch also never holds the same channel+payload twice, because PostgreSQL folds identical
// notifications within a transaction into one: the second waits for the next batch.
import pg from 'pg';

type Pending = { channel: string; text: string; resolve: () => void; reject: (e: unknown) => void };

/** Options of a BatchPublisher. */
export type BatchPublisherOptions = {
  /** Batches in flight at once (each holds one pool connection). */
  lanes: number;
  /** Most notifications in one batch. @default 256 */
  maxBatch?: number;
  /** Most payload characters in one batch. @default 512 Ki */
  maxBatchChars?: number;
};

/** Sends notifications through `pool`, coalescing those that wait. */
export class BatchPublisher {
  private pending: Pending[] = [];
  private readonly inFlight = new Set<string>();
  private active = 0;
  private readonly lanes: number;
  private readonly maxBatch: number;
  private readonly maxBatchChars: number;

  constructor(
    private readonly pool: pg.Pool,
    options: BatchPublisherOptions,
  ) {
    this.lanes = Math.max(1, options.lanes);
    this.maxBatch = Math.max(1, options.maxBatch ?? 256);
    this.maxBatchChars = options.maxBatchChars ?? 512 * 1024;
  }

  /** Resolves once the notification is committed; rejects with the database error of its batch. */
  publish(channel: string, text: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ channel, text, resolve, reject });
      this.pump();
    });
  }

  /** Takes the next batch: pending notifications, oldest first, whose channel is free. */
  private take(): Pending[] {
    const batch: Pending[] = [];
    const seen = new Set<string>();
    // Channels skipped in this pass: every later notification on them must wait too, to keep order.
    const blocked = new Set<string>();
    const rest: Pending[] = [];
    let chars = 0;
    let i = 0;
    for (; i < this.pending.length; i++) {
      const p = this.pending[i]!;
      if (batch.length >= this.maxBatch || (batch.length > 0 && chars + p.text.length > this.maxBatchChars)) break;
      const key = `${p.channel}\0${p.text}`;
      if (blocked.has(p.channel) || this.inFlight.has(p.channel) || seen.has(key)) {
        blocked.add(p.channel);
        rest.push(p);
        continue;
      }
      seen.add(key);
      chars += p.text.length;
      batch.push(p);
    }
    if (batch.length) this.pending = i < this.pending.length ? rest.concat(this.pending.slice(i)) : rest;
    return batch;
  }

  private pump(): void {
    while (this.active < this.lanes && this.pending.length > 0) {
      const batch = this.take();
      // Everything pending is on a channel already in flight; its batch's completion pumps again.
      if (batch.length === 0) return;
      const channels = new Set(batch.map((p) => p.channel));
      for (const c of channels) this.inFlight.add(c);
      this.active++;
      void this.send(batch).finally(() => {
        for (const c of channels) this.inFlight.delete(c);
        this.active--;
        this.pump();
      });
    }
  }

  private async send(batch: Pending[]): Promise<void> {
    const sql = batch.map((p) => `NOTIFY ${pg.escapeIdentifier(p.channel)}, ${pg.escapeLiteral(p.text)}`).join('; ');
    try {
      await this.pool.query(sql);
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    for (const p of batch) p.resolve();
  }
}
