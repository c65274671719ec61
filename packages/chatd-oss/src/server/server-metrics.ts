// The server's counters and gauges, rendered as Prometheus text for GET /metrics. Plain numbers in a
// map: no dependency and nothing on the hot path but an increment.

/** Counter and gauge names with their help text. */
export const METRIC_HELP = {
  chatd_http_requests_total: 'HTTP requests answered, by status class.',
  chatd_ws_connections: 'Open WebSocket connections, by kind (stream, watch); relay legs are stream sockets, inbox sockets watch sockets.',
  chatd_ws_relay_legs: "Open relay legs: stream sockets of peer replicas that presented their replica credential.",
  chatd_ws_revoked_total: "Sockets closed with 1008 'token revoked', by reason (revoked: the revocation event; recheck: the keep-alive re-check found the token revoked or expired).",
  chatd_auth_failures_total: 'Requests and upgrades that presented an invalid, expired or revoked session token.',
  chatd_auth_limited_total: 'Requests and upgrades refused with 429 because their client spent its failed-authentication budget.',
  chatd_db_probes_total: 'Database probes run for /readyz and /metrics (at most one per probe interval).',
  chatd_ws_refused_total: 'WebSocket upgrades refused by a socket cap, by reason (user_streams, user_watches, global, peer_relay_legs).',
  chatd_stream_events_sent_total: 'Stream events sent to clients.',
  chatd_stream_frames_sent_total: 'Stream WebSocket frames sent to clients.',
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
  chatd_discontinuities_total: 'Discontinuity events sent.',
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
  chatd_gitsync_refreshes_limited_total: 'Git status refreshes refused by the per-user cap, by kind (report: PUT /git answered 429; inline: GET served the stored status).',
  chatd_notify_lag_seconds: 'Delay between publishing a stream notification and a subscriber handling it (last observed).',
} as const;

/** Name of a server metric. */
export type MetricName = keyof typeof METRIC_HELP;

/** A tiny metrics registry. */
export interface ServerMetrics {
  inc(name: MetricName, by?: number, labels?: Record<string, string>): void;
  set(name: MetricName, value: number, labels?: Record<string, string>): void;
  get(name: MetricName, labels?: Record<string, string>): number;
  /** Prometheus text exposition of every metric. */
  render(): string;
}

const key = (labels?: Record<string, string>) =>
  labels ? Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`).join(',') : '';

/** Creates an empty registry. */
export function createServerMetrics(): ServerMetrics {
  const values = new Map<MetricName, Map<string, number>>();
  const series = (name: MetricName) => {
    let m = values.get(name);
    if (!m) values.set(name, (m = new Map()));
    return m;
  };
  return {
    inc(name, by = 1, labels) {
      const m = series(name);
      const k = key(labels);
      m.set(k, (m.get(k) ?? 0) + by);
    },
    set(name, value, labels) {
      series(name).set(key(labels), value);
    },
    get(name, labels) {
      return values.get(name)?.get(key(labels)) ?? 0;
    },
    render() {
      const lines: string[] = [];
      for (const name of Object.keys(METRIC_HELP) as MetricName[]) {
        const type = name.endsWith('_total') ? 'counter' : 'gauge';
        lines.push(`# HELP ${name} ${METRIC_HELP[name]}`, `# TYPE ${name} ${type}`);
        const m = values.get(name);
        if (!m || m.size === 0) lines.push(`${name} 0`);
        else for (const [k, v] of m) lines.push(k ? `${name}{${k}} ${v}` : `${name} ${v}`);
      }
      return lines.join('\n') + '\n';
    },
  };
}
