// Mutable counters behind `PubSub.metrics()`.
import type { PubSubMetrics } from './pubsub.js';

/** The counters an implementation updates; `snapshot` copies them out with the gauges it supplies. */
export class MetricsCounters {
  published = 0;
  publishFailures = 0;
  delivered = 0;
  dropped = 0;
  droppedSignals = 0;
  reconnects = 0;

  snapshot(gauges: { listeners: number; channels: number; connected: boolean }): PubSubMetrics {
    return {
      published: this.published,
      publishFailures: this.publishFailures,
      delivered: this.delivered,
      dropped: this.dropped,
      droppedSignals: this.droppedSignals,
      reconnects: this.reconnects,
      ...gauges,
    };
  }
}
