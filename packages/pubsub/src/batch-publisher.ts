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

/** A publishing lane: one batch in flight at most, on its own connection when connections are held. */
type Lane = { busy: boolean; client: pg.PoolClient | undefined; onError: ((err: Error) => void) | undefined };

/** Options of a BatchPublisher. */
export type BatchPublisherOptions = {
  /** Batches in flight at once (each holds one pool connection). */
  lanes: number;
  /** Most notifications in one batch. @default 256 */
  maxBatch?: number;
  /** Most payload characters in one batch. @default 512 Ki */
  maxBatchChars?: number;
  /**
   * Keep each lane's pool connection checked out between batches (a checkout per publish costs a
   * noticeable share of a NOTIFY round trip). A held connection that fails is dropped at once.
   * Use only with a pool of your own. @default false
   */
  holdConnections?: boolean;
};

/** Sends notifications through `pool`, coalescing those that wait. */
export class BatchPublisher {
  private pending: Pending[] = [];
  private readonly inFlight = new Set<string>();
  private readonly lanes: Lane[];
  private readonly hold: boolean;
  private readonly maxBatch: number;
  private readonly maxBatchChars: number;

  constructor(
    private readonly pool: pg.Pool,
    options: BatchPublisherOptions,
  ) {
    this.lanes = Array.from({ length: Math.max(1, options.lanes) }, () => ({ busy: false, client: undefined, onError: undefined }));
    this.hold = options.holdConnections ?? false;
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

  /**
   * Queues every notification before sending any, so those on free channels leave in one batch (one
   * transaction); resolves once all are committed, rejects with the first failure.
   */
  publishAll(notifications: readonly { channel: string; text: string }[]): Promise<void> {
    const done = notifications.map(
      (n) =>
        new Promise<void>((resolve, reject) => {
          this.pending.push({ channel: n.channel, text: n.text, resolve, reject });
        }),
    );
    this.pump();
    return Promise.all(done).then(() => undefined);
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
    while (this.pending.length > 0) {
      const lane = this.lanes.find((l) => !l.busy);
      if (!lane) return;
      const batch = this.take();
      // Everything pending is on a channel already in flight; its batch's completion pumps again.
      if (batch.length === 0) return;
      lane.busy = true;
      void this.send(lane, batch);
    }
  }

  /** Returns every held connection to the pool. */
  release(): void {
    for (const lane of this.lanes) this.drop(lane, undefined);
  }

  private drop(lane: Lane, err: Error | undefined): void {
    const client = lane.client;
    if (!client) return;
    lane.client = undefined;
    // Keep listening: a late error on a released client must not become an unhandled 'error' event.
    if (lane.onError) client.removeListener('error', lane.onError);
    client.on('error', () => {});
    lane.onError = undefined;
    client.release(err ?? false);
  }

  private async query(lane: Lane, sql: string): Promise<void> {
    if (!this.hold) {
      await this.pool.query(sql);
      return;
    }
    let client = lane.client;
    if (!client) {
      client = await this.pool.connect();
      const held = client;
      lane.client = held;
      // A checked-out client has no pool error handler: an error would otherwise crash the process.
      lane.onError = (err: Error) => {
        if (lane.client === held) this.drop(lane, err);
      };
      held.on('error', lane.onError);
    }
    try {
      await client.query(sql);
    } catch (err) {
      if (lane.client === client) this.drop(lane, err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
  }

  private async send(lane: Lane, batch: Pending[]): Promise<void> {
    const channels = new Set(batch.map((p) => p.channel));
    for (const c of channels) this.inFlight.add(c);
    const sql = batch.map((p) => `NOTIFY ${pg.escapeIdentifier(p.channel)}, ${pg.escapeLiteral(p.text)}`).join('; ');
    let error: unknown;
    let failed = false;
    try {
      await this.query(lane, sql);
    } catch (err) {
      failed = true;
      error = err;
    }
    // Free the lane before waking the callers, so a caller that publishes again at once reuses this
    // (warm) connection instead of rotating to another one.
    for (const c of channels) this.inFlight.delete(c);
    lane.busy = false;
    for (const p of batch) {
      if (failed) p.reject(error);
      else p.resolve();
    }
    this.pump();
  }
}
