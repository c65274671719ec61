// The replica's metrics on prom-client: one Registry per server (never prom-client's global one, since several
// servers run in one test process), rendered for GET /metrics with the registry's own content type. Counters and
// gauges keep a plain map on the hot path (an increment) that the registry reads at each scrape; latency
// histograms are latency-histogram.ts (prom-client's Histogram costs too much per observation for the per-part
// lag), rendered by the same registry. The process metrics (CPU, memory, event loop, GC) are collected once per
// process and shared by every registry: prom-client starts an event-loop monitor and a GC observer per
// collection that nothing can stop, so a collection per server would leak them.
import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import { createLatencyHistogram, type LatencyHistogram } from './latency-histogram.js';

/** Counter and gauge names with their help text (a name ending in `_total` is a counter). */
export const METRIC_HELP = {
  chatd_http_requests_total: 'HTTP requests answered, by status class.',
  chatd_ws_connections: 'Open WebSocket connections, by kind (stream, watch); relay legs are stream sockets, inbox sockets watch sockets.',
  chatd_sse_streams: 'Open Server-Sent Events streams (GET /{chat}/stream without an upgrade); they also count as stream sockets in the caps.',
  chatd_tickets_refused_total: 'Socket tickets that opened nothing, by reason (unknown, used, expired, other_scope, token_inactive).',
  chatd_ws_relay_legs: "Open relay legs: stream sockets of peer replicas that presented their replica credential.",
  chatd_ws_revoked_total: "Sockets closed with 1008 'token revoked', by reason (revoked: the revocation event; recheck: the keep-alive re-check found the token revoked or expired).",
  chatd_auth_failures_total: 'Requests and upgrades that presented an invalid, expired or revoked session token.',
  chatd_auth_limited_total: 'Requests and upgrades refused with 429 because their client spent its failed-authentication budget.',
  chatd_write_limited_total: "Write requests refused with 429 because their user's write bucket was empty (contract.md#write-rate-limit).",
  chatd_spend_limit_refusals_total: 'Requests refused with 409 because their user reached their spend limit (contract.md#spend-limits).',
  chatd_model_calls_total: 'Model calls that reported usage, recorded in the cost ledger, by priced (yes, no).',
  chatd_model_cost_micros_total: 'Cost of the recorded model calls, in micro-units of the currency.',
  chatd_db_probes_total: 'Database probes run for /readyz and /metrics (at most one per probe interval).',
  chatd_ws_refused_total: 'WebSocket upgrades refused by a socket cap, by reason (user_streams, user_watches, global, peer_relay_legs).',
  chatd_stream_events_sent_total: 'Stream events sent to clients.',
  chatd_stream_frames_sent_total: 'Stream WebSocket frames sent to clients.',
  chatd_stream_frames_shared_total: 'Stream frames whose bytes another socket built in the same event-loop turn (one encoding fanned out).',
  chatd_stream_parts_coalesced_total: 'Message parts merged into others for slow clients.',
  chatd_stream_parts_dropped_total: 'Message parts never sent because a client was cut for being too slow.',
  chatd_stream_slow_clients_cut_total: 'Clients closed with 1008 after a too_slow discontinuity.',
  chatd_stream_dropped_bytes_total: 'Bytes of queued events (JSON) never sent because their client was cut for being too slow.',
  chatd_stream_stalled_waits_total: 'History page waits ended because the client took nothing for a drain poll (it is fed on until the cut).',
  chatd_stream_queued_bytes: 'Bytes of events (JSON) queued in stream senders, not yet handed to their sockets.',
  chatd_watch_events_sent_total: 'Watch and inbox socket frames (ChatEvents and inbox notifications) sent to clients.',
  chatd_watch_events_coalesced_total: 'Queued watch ChatEvents replaced by a newer event of the same chat and kind for slow clients.',
  chatd_watch_events_dropped_total: 'Watch frames never sent because their socket closed or was cut while they were queued.',
  chatd_watch_clients_cut_total: 'Watch sockets closed with 1008 too_slow because their queue passed the hard limit.',
  chatd_watch_queued_bytes: 'Bytes of watch frames queued behind slow sockets, summed over all watch sockets.',
  chatd_watch_events_refetched_total: 'Truncated ChatEvents whose full chat a watch socket read from the database before forwarding.',
  chatd_catch_up_queries_total: 'Database catch-up reads run by stream subscribers (one per chat and cursor per turn).',
  chatd_catch_ups_shared_total: 'Subscriber catch-ups served by a read another subscriber of the chat started in the same turn.',
  chatd_snapshot_pages_read_total: 'Snapshot history pages read by stream subscribers (one per chat and cursor per turn).',
  chatd_snapshot_pages_shared_total: 'Snapshot history pages served by a read another subscriber of the chat started in the same turn.',
  chatd_discontinuities_total: 'Discontinuity events sent, by reason (run_lost, too_slow, relay_failed).',
  chatd_subscriptions: 'Open stream subscriptions.',
  chatd_sync_ticks_total: 'Sync safety net ticks that queried the database (one query over every followed chat).',
  chatd_sync_catch_ups_total: 'Stream subscribers the sync safety net made catch up because their chat had a newer durable message than they were sent (a lost notification).',
  chatd_sync_failures_total: 'Sync safety net queries that failed (the next tick asks again).',
  chatd_sync_followed_chats: 'Chats this replica\'s stream subscribers follow, as the sync safety net counts them.',
  chatd_pubsub_published_total: 'Pubsub notifications published.',
  chatd_pubsub_delivered_total: 'Pubsub notifications delivered to listeners.',
  chatd_pubsub_dropped_total: 'Pubsub notifications dropped for slow listeners.',
  chatd_pubsub_reconnects_total: 'Reconnects of the LISTEN connection.',
  chatd_pubsub_listeners: 'Pubsub listeners.',
  chatd_notify_queue_usage: "Fraction of PostgreSQL's NOTIFY queue in use.",
  chatd_file_uploads_total: 'File uploads (POST /files), by outcome (stored, too_large, unsupported_type, rate_limited).',
  chatd_files_swept_total: 'Uploaded files the retention sweep deleted because no message referenced them.',
  chatd_gitsync_refreshes_limited_total: 'Git status refreshes refused by the per-user cap, by kind (report: PUT /git answered 429; inline: GET served the stored status).',
  chatd_runs_total: 'Runs this replica ended, by outcome (finished, failed, interrupted, requeued, requires_action, fenced, abandoned).',
  chatd_retries_total: 'Model call attempts that failed retryably and were retried, by error kind.',
  chatd_stale_recoveries_total: 'Chats whose run missed its heartbeats that this replica handed back (status pending).',
  chatd_live_runs: 'Runs in flight on this replica.',
  chatd_pending_chats: 'Chats waiting for a worker (status pending), read with the database probe (at most once per probe interval).',
  chatd_replica_links: 'Open replica links served to peer replicas (contract.md#replica-link); each is also one relay leg.',
  chatd_replica_link_streams: 'Chat streams open on the replica links this replica serves.',
  chatd_replica_link_frames_sent_total: 'Frames sent on served replica links (one per event-loop turn with records).',
  chatd_replica_link_records_sent_total: 'Records (a stream\'s events of one turn, or its end) sent on served replica links.',
  chatd_replica_links_unauthorized_total: "Served replica links closed because the peer's replica credential no longer verified at a keep-alive re-check.",
  chatd_replica_link_invalid_frames_total: 'Control frames of a replica link that were malformed or named a stream already open (ignored).',
  chatd_relay_links: 'Open replica links from this replica to peers it relays chats from (enterprise, relay mode link).',
  chatd_relays: 'Open relay connections from this replica to the replicas generating chats it serves (enterprise).',
} as const;

/** Name of a counter or gauge. */
export type MetricName = keyof typeof METRIC_HELP;

/**
 * Buckets of every latency histogram, in seconds: 1 ms to 30 s, dense where token streaming lives (a part gap is
 * milliseconds, a first token hundreds of them, a run seconds to tens of seconds).
 * @default [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
 */
export const DEFAULT_LATENCY_BUCKETS_SECONDS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Latency histograms (seconds) with their help text and label names. */
export const HISTOGRAM_HELP = {
  chatd_time_to_first_token_seconds: { help: 'From the chat becoming pending (a send accepted, a queued message promoted, tool results submitted) to the first part its run published.', labelNames: [] },
  chatd_part_gap_seconds: { help: 'Time between two consecutive parts a run published.', labelNames: [] },
  chatd_part_lag_seconds: {
    help: 'From a part leaving its source to its frame being handed to a client socket, by path (local: from the model on this replica; relay: from the relay connection that received it from the generating replica).',
    labelNames: ['path'],
  },
  chatd_run_duration_seconds: { help: 'Duration of the runs this replica ended, by outcome.', labelNames: ['outcome'] },
  chatd_step_duration_seconds: { help: 'Duration of one model step (the model call, retries included).', labelNames: [] },
  chatd_tool_duration_seconds: { help: 'Duration of one server tool execution, by tool name.', labelNames: ['tool'] },
  chatd_catch_up_query_seconds: { help: 'Duration of a stream subscriber catch-up read (one page of messages after its cursor).', labelNames: [] },
  chatd_notify_lag_seconds: { help: "Round trip of a NOTIFY from this replica back to its own LISTEN connection (a probe sent with each database probe).", labelNames: [] },
} as const satisfies Record<string, { help: string; labelNames: readonly string[] }>;

/** Name of a latency histogram. */
export type HistogramName = keyof typeof HISTOGRAM_HELP;
/** The labels a histogram takes. */
export type HistogramLabels<N extends HistogramName> = Record<(typeof HISTOGRAM_HELP)[N]['labelNames'][number], string>;

/** The replica's metrics. */
export interface ServerMetrics {
  inc(name: MetricName, by?: number, labels?: Record<string, string>): void;
  set(name: MetricName, value: number, labels?: Record<string, string>): void;
  get(name: MetricName, labels?: Record<string, string>): number;
  /** Records one latency, in seconds (a negative one, from clocks that disagree, counts as 0). */
  observe<N extends HistogramName>(name: N, seconds: number, labels?: HistogramLabels<N>): void;
  /** Observations recorded so far in one histogram series (for tests). */
  count<N extends HistogramName>(name: N, labels?: HistogramLabels<N>): number;
  /** The prom-client registry behind /metrics (other packages register their own metrics in it). */
  readonly registry: Registry;
  /** Content type of `render()`'s text. */
  readonly contentType: string;
  /** Prometheus text exposition of every metric. */
  render(): Promise<string>;
  /** Unregisters everything (the shared process metrics keep running for the other registries). Idempotent. */
  close(): void;
}

/** Options of `createServerMetrics`. */
export type ServerMetricsOptions = {
  /** Include prom-client's default process metrics (process_*, nodejs_*). @default true */
  processMetrics?: boolean;
};

const key = (labels?: Record<string, string>) =>
  labels ? Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`).join(',') : '';

let processMetrics: Metric[] | undefined;
/** The default process metrics, collected once per process (see the module comment). */
function sharedProcessMetrics(): Metric[] {
  if (!processMetrics) {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    // The array holds the metric objects themselves (typed as their plain description).
    processMetrics = registry.getMetricsAsArray() as unknown as Metric[];
  }
  return processMetrics;
}

type Series = { labels: Record<string, string>; value: number };

/** Creates the metrics of one server. */
export function createServerMetrics(options: ServerMetricsOptions = {}): ServerMetrics {
  const registry = new Registry();
  const values = new Map<MetricName, Map<string, Series>>();
  const labelNames = new Map<MetricName, Set<string>>();

  /**
   * (Re)registers a counter or gauge whose scrape copies the plain map. prom-client refuses labels a metric
   * was not declared with, and callers name labels as they go: a new label name re-registers the metric.
   */
  const declare = (name: MetricName) => {
    const names = [...(labelNames.get(name) ?? [])];
    if (registry.getSingleMetric(name)) registry.removeSingleMetric(name);
    const series = () => values.get(name)?.values() ?? [];
    const config = { name, help: METRIC_HELP[name], labelNames: names, registers: [registry] };
    if (name.endsWith('_total')) {
      new Counter({
        ...config,
        collect(this: Counter) {
          this.reset();
          for (const s of series()) this.inc(s.labels, Math.max(0, s.value));
        },
      });
    } else {
      new Gauge({
        ...config,
        collect(this: Gauge) {
          this.reset();
          for (const s of series()) this.set(s.labels, s.value);
        },
      });
    }
  };
  for (const name of Object.keys(METRIC_HELP) as MetricName[]) declare(name);

  const seriesOf = (name: MetricName, labels: Record<string, string> | undefined): Series => {
    let m = values.get(name);
    if (!m) values.set(name, (m = new Map()));
    const k = key(labels);
    let s = m.get(k);
    if (!s) {
      s = { labels: { ...labels }, value: 0 };
      m.set(k, s);
      if (labels) {
        const known = labelNames.get(name) ?? new Set<string>();
        const grown = Object.keys(labels).filter((l) => !known.has(l));
        if (grown.length > 0) {
          for (const l of grown) known.add(l);
          labelNames.set(name, known);
          declare(name);
        }
      }
    }
    return s;
  };

  const histograms = new Map<HistogramName, LatencyHistogram>();
  for (const [name, spec] of Object.entries(HISTOGRAM_HELP) as [HistogramName, (typeof HISTOGRAM_HELP)[HistogramName]][]) {
    const h = createLatencyHistogram(name, spec.help, spec.labelNames, DEFAULT_LATENCY_BUCKETS_SECONDS);
    histograms.set(name, h);
    // prom-client's registry renders any metric of this shape; its types list only its own classes.
    registry.registerMetric(h as unknown as Metric);
  }

  if (options.processMetrics !== false) for (const m of sharedProcessMetrics()) registry.registerMetric(m);

  return {
    inc(name, by = 1, labels) {
      seriesOf(name, labels).value += by;
    },
    set(name, value, labels) {
      seriesOf(name, labels).value = value;
    },
    get(name, labels) {
      return values.get(name)?.get(key(labels))?.value ?? 0;
    },
    observe(name, seconds, labels) {
      histograms.get(name)!.observe(Number.isFinite(seconds) && seconds > 0 ? seconds : 0, labels);
    },
    count(name, labels) {
      return histograms.get(name)!.count(labels);
    },
    registry,
    contentType: registry.contentType,
    render: () => registry.metrics(),
    close() {
      registry.clear();
    },
  };
}
