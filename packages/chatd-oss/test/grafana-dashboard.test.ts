// docs/grafana-dashboard.json stays true to the registry (issue 34): it is valid JSON, every metric name its
// PromQL uses exists in a server's registry (a histogram's _bucket/_sum/_count series by its own name), and
// every latency histogram has a panel.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HISTOGRAM_HELP, createServerMetrics } from '../src/server/server-metrics.js';

const DASHBOARD = new URL('../../../docs/grafana-dashboard.json', import.meta.url);

type Panel = { type: string; title: string; targets?: { expr: string }[]; panels?: Panel[] };

/** Metric names in a PromQL expression: identifiers of our prefixes (functions, labels and `le` are none). */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\b((?:chatd|process|nodejs)_[a-zA-Z0-9_]+)\b/g)].map((m) => m[1]!);
}

describe('docs/grafana-dashboard.json', () => {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { title: string; panels: Panel[] };
  const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
  const exprs = panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));

  it('queries only metrics the registry has', () => {
    const metrics = createServerMetrics();
    const histogram = (name: string) => Object.hasOwn(HISTOGRAM_HELP, name.replace(/_(bucket|sum|count)$/, '')) && /_(bucket|sum|count)$/.test(name);
    const has = (name: string) => metrics.registry.getSingleMetric(name) !== undefined || (histogram(name) && metrics.registry.getSingleMetric(name.replace(/_(bucket|sum|count)$/, '')) !== undefined);
    const used = [...new Set(exprs.flatMap(metricNames))];
    expect(used.length).toBeGreaterThan(20);
    expect(used.filter((n) => !has(n))).toEqual([]);
    metrics.close();
  });

  it('has a panel for every latency histogram, each a histogram_quantile over its buckets', () => {
    expect(exprs.length).toBeGreaterThan(0);
    for (const name of Object.keys(HISTOGRAM_HELP)) {
      expect(exprs.some((e) => e.includes('histogram_quantile(') && e.includes(`${name}_bucket[`)), name).toBe(true);
    }
  });
});
