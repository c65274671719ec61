// The NOTIFY round-trip probe behind `chatd_notify_lag_seconds`: the server LISTENs on a channel of its own and,
// with each database probe (at most one per probe interval), NOTIFYs it the clock's time; the delivery observes
// now - then. It measures what every stream notification goes through (PostgreSQL's queue and this replica's
// LISTEN connection) without putting a timestamp into any notification clients or other replicas read.
import { randomUUID } from 'node:crypto';
import type { Clock } from '@chatd/clock';
import type { PubSub, Unsubscribe } from '@chatd/pubsub';
import type { Logger } from '../logger.js';
import type { ServerMetrics } from './server-metrics.js';

/** Prefix of the probe channel; a random suffix keeps each server's probes its own. */
export const NOTIFY_PROBE_CHANNEL_PREFIX = 'chatd:notify_probe:';

/** Dependencies of `createNotifyProbe`. */
export type NotifyProbeOptions = { pubsub: PubSub; clock: Clock; metrics: ServerMetrics; logger: Logger };

/** A running probe. */
export interface NotifyProbe {
  /** LISTENs on the probe channel; a failure is logged and leaves the probe off. */
  start(): Promise<void>;
  /** Sends one probe (fire and forget). */
  ping(): void;
  /** UNLISTENs. Idempotent. */
  stop(): void;
}

/** Creates the probe of one server. */
export function createNotifyProbe(options: NotifyProbeOptions): NotifyProbe {
  const { pubsub, clock, metrics, logger } = options;
  const channel = `${NOTIFY_PROBE_CHANNEL_PREFIX}${randomUUID()}`;
  let unsubscribe: Unsubscribe | undefined;
  let stopped = false;
  return {
    async start() {
      try {
        const off = await pubsub.subscribe(channel, (message) => {
          // Our own channel, but a payload is still input: anything but a time is dropped.
          const text = message?.toString('utf8') ?? '';
          const sentMs = Number(text);
          if (text !== '' && Number.isFinite(sentMs)) metrics.observe('chatd_notify_lag_seconds', (clock.nowMs() - sentMs) / 1000);
        });
        if (stopped) off();
        else unsubscribe = off;
      } catch (err) {
        logger.warn({ err }, 'cannot listen for the NOTIFY probe; chatd_notify_lag_seconds stays empty');
      }
    },
    ping() {
      if (!unsubscribe) return;
      pubsub.publish(channel, String(clock.nowMs())).catch((err: unknown) => logger.debug({ err }, 'NOTIFY probe failed'));
    },
    stop() {
      stopped = true;
      unsubscribe?.();
      unsubscribe = undefined;
    },
  };
}
