// The metrics registry (issue 34): one prom-client Registry per server, the process metrics shared (never a
// collection per server: prom-client starts an event-loop monitor and a GC observer for each that nothing stops),
// every counter and gauge of METRIC_HELP exposed under its name and help, labels named as callers go.
import { describe, expect, it } from 'vitest';
import { Histogram, Registry } from 'prom-client';
import { DEFAULT_LATENCY_BUCKETS_SECONDS, HISTOGRAM_HELP, METRIC_HELP, createServerMetrics } from '../src/server/server-metrics.js';

describe('createServerMetrics', () => {
  it('creating many in one process neither throws nor collects the process metrics again: they are one set, shared', async () => {
    const all = Array.from({ length: 25 }, () => createServerMetrics());
    const cpu = all.map((m) => m.registry.getSingleMetric('process_cpu_user_seconds_total'));
    expect(cpu[0]).toBeDefined();
    expect(new Set(cpu).size).toBe(1);
    const gc = all.map((m) => m.registry.getSingleMetric('nodejs_gc_duration_seconds'));
    expect(new Set(gc).size).toBe(1);
    // Each registry is its own: a counter of one is not another's.
    all[0]!.inc('chatd_http_requests_total', 1, { code: '2xx' });
    expect(all[1]!.get('chatd_http_requests_total', { code: '2xx' })).toBe(0);
    for (const m of all) m.close();
    expect(all[0]!.registry.getMetricsAsArray()).toHaveLength(0);
    // A closed registry leaves the shared process metrics to the others.
    const later = createServerMetrics();
    expect(await later.render()).toMatch(/^process_cpu_user_seconds_total \d/m);
    later.close();
  });

  it('exposes every counter and gauge with its help and type, and every histogram with its buckets', async () => {
    const m = createServerMetrics({ processMetrics: false });
    const text = await m.render();
    for (const [name, help] of Object.entries(METRIC_HELP)) {
      expect(text).toContain(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${name} ${name.endsWith('_total') ? 'counter' : 'gauge'}\n`);
    }
    for (const name of Object.keys(HISTOGRAM_HELP)) expect(text).toContain(`# TYPE ${name} histogram\n`);
    expect(text).not.toContain('process_cpu');
    m.close();
  });

  it('counts labelled series apart, takes new label names as they come, and keeps get() in step with the exposition', async () => {
    const m = createServerMetrics({ processMetrics: false });
    m.inc('chatd_discontinuities_total', 1, { reason: 'too_slow' });
    m.inc('chatd_discontinuities_total', 2, { reason: 'run_lost' });
    m.set('chatd_ws_connections', 3, { kind: 'stream' });
    m.inc('chatd_ws_connections', -1, { kind: 'stream' });
    m.set('chatd_notify_queue_usage', 0.25);
    m.observe('chatd_part_lag_seconds', 0.003, { path: 'relay' });
    m.observe('chatd_part_lag_seconds', -1, { path: 'relay' });
    const text = await m.render();
    expect(text).toContain('chatd_discontinuities_total{reason="too_slow"} 1\n');
    expect(text).toContain('chatd_discontinuities_total{reason="run_lost"} 2\n');
    expect(text).toContain('chatd_ws_connections{kind="stream"} 2\n');
    expect(text).toContain('chatd_notify_queue_usage 0.25\n');
    // Unused counters still show as 0, as before prom-client.
    expect(text).toContain('chatd_stale_recoveries_total 0\n');
    expect(text).toContain('chatd_part_lag_seconds_bucket{le="0.001",path="relay"} 1\n');
    expect(text).toContain('chatd_part_lag_seconds_bucket{le="0.005",path="relay"} 2\n');
    expect(text).toContain('chatd_part_lag_seconds_count{path="relay"} 2\n');
    expect(m.get('chatd_ws_connections', { kind: 'stream' })).toBe(2);
    expect(m.count('chatd_part_lag_seconds', { path: 'relay' })).toBe(2);
    expect(m.count('chatd_part_lag_seconds', { path: 'local' })).toBe(0);
    expect(m.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    m.close();
  });

  it("renders a latency histogram exactly as prom-client's own Histogram renders the same observations", async () => {
    const m = createServerMetrics({ processMetrics: false });
    const reference = new Registry();
    const name = 'chatd_part_lag_seconds';
    const h = new Histogram({ name, help: HISTOGRAM_HELP[name].help, labelNames: ['path'], buckets: [...DEFAULT_LATENCY_BUCKETS_SECONDS], registers: [reference] });
    const seen: [number, string][] = [[0.0005, 'local'], [0.001, 'local'], [0.0011, 'relay'], [0.3, 'local'], [31, 'relay'], [5, 'local'], [0.025, 'relay']];
    for (const [v, path] of seen) {
      m.observe(name, v, { path });
      h.observe({ path }, v);
    }
    expect(await m.registry.getSingleMetricAsString(name)).toBe(await reference.getSingleMetricAsString(name));
    const plain = 'chatd_step_duration_seconds';
    const h2 = new Histogram({ name: plain, help: HISTOGRAM_HELP[plain].help, buckets: [...DEFAULT_LATENCY_BUCKETS_SECONDS], registers: [reference] });
    // Before any observation: the zeros of an unlabelled histogram, as prom-client shows them.
    expect(await m.registry.getSingleMetricAsString(plain)).toBe(await reference.getSingleMetricAsString(plain));
    m.observe(plain, 2);
    h2.observe(2);
    expect(await m.registry.getSingleMetricAsString(plain)).toBe(await reference.getSingleMetricAsString(plain));
    m.close();
  });
});
