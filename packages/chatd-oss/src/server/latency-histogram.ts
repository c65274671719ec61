// A Prometheus histogram for hot paths, exposed through a prom-client Registry. Part lag is observed once per part
// per client socket (hundreds of thousands a second when one chat fans out to many clients); prom-client's own
// Histogram.observe allocates a closure and validates and hashes its labels at every call, several hundred ns.
// Here an observation is a bucket scan and three additions on the series, found by its label values; the registry
// formats the exposition (`_bucket{le}` cumulative, `_sum`, `_count`) from `get()` at scrape time, as it does for
// its own metrics. It does no exemplars and no timers.

/** One labelled series. */
type Series = { labels: Record<string, string>; buckets: Float64Array; sum: number; count: number };

/** A value of `get()`, as prom-client's registry formats it. */
type ExportedValue = { metricName: string; labels: Record<string, string | number>; value: number };

/** A histogram the registry can render (prom-client's `Metric` shape: `name`, `help`, `type`, `get()`). */
export interface LatencyHistogram {
  readonly name: string;
  readonly help: string;
  readonly type: 'histogram';
  readonly aggregator: 'sum';
  /** Records `value` in the series of `labels` (which must name exactly the histogram's label names). */
  observe(value: number, labels?: Record<string, string>): void;
  /** Observations so far in the series of `labels`. */
  count(labels?: Record<string, string>): number;
  /** The exposition values, for the registry. */
  get(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: ExportedValue[] }>;
  reset(): void;
}

/** Creates a histogram with ascending `bounds` (the `+Inf` bucket is implicit). */
export function createLatencyHistogram(name: string, help: string, labelNames: readonly string[], bounds: readonly number[]): LatencyHistogram {
  const upper = [...bounds];
  const series = new Map<string, Series>();
  // The key is the label values alone (the names are fixed): no sorting or escaping on the hot path.
  const keyOf = (labels: Record<string, string> | undefined): string => {
    if (labelNames.length === 0 || !labels) return '';
    if (labelNames.length === 1) return labels[labelNames[0]!] ?? '';
    let k = '';
    for (const n of labelNames) k += `${labels[n] ?? ''}\u0000`;
    return k;
  };
  const seriesOf = (labels: Record<string, string> | undefined): Series => {
    const k = keyOf(labels);
    let s = series.get(k);
    if (!s) {
      const own: Record<string, string> = {};
      for (const n of labelNames) if (labels?.[n] !== undefined) own[n] = labels[n]!;
      s = { labels: own, buckets: new Float64Array(upper.length + 1), sum: 0, count: 0 };
      series.set(k, s);
    }
    return s;
  };
  // A histogram without labels shows its zeros before the first observation, as prom-client's does.
  const init = () => {
    series.clear();
    if (labelNames.length === 0) seriesOf(undefined);
  };
  init();
  return {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    observe(value, labels) {
      const s = seriesOf(labels);
      let i = 0;
      while (i < upper.length && value > upper[i]!) i++;
      s.buckets[i]!++;
      s.sum += value;
      s.count++;
    },
    count: (labels) => series.get(keyOf(labels))?.count ?? 0,
    async get() {
      const values: ExportedValue[] = [];
      for (const s of series.values()) {
        let cumulative = 0;
        for (let i = 0; i <= upper.length; i++) {
          cumulative += s.buckets[i]!;
          values.push({ metricName: `${name}_bucket`, labels: { le: i < upper.length ? upper[i]! : '+Inf', ...s.labels }, value: cumulative });
        }
        values.push({ metricName: `${name}_sum`, labels: s.labels, value: s.sum });
        values.push({ metricName: `${name}_count`, labels: s.labels, value: s.count });
      }
      return { name, help, type: 'histogram', aggregator: 'sum', values };
    },
    reset: init,
  };
}
