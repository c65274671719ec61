// Reads a replica's Prometheus text (GET /metrics) into numbers, so scenarios can compare counters before and
// after a fault. Series are keyed by their exposition name with labels (`chatd_ws_connections{kind="watch"}`).

/** One scrape: series name (with labels) to value. */
export type MetricsSample = Map<string, number>;

/** Scrapes `baseUrl`/metrics. */
export async function scrapeMetrics(baseUrl: string): Promise<MetricsSample> {
  const res = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(10_000) });
  if (res.status !== 200) throw new Error(`GET ${baseUrl}/metrics answered ${res.status}`);
  const sample: MetricsSample = new Map();
  for (const line of (await res.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    sample.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return sample;
}

/** The value of a series, 0 when the replica does not export it (yet). */
export const metric = (sample: MetricsSample, series: string): number => sample.get(series) ?? 0;

/** How much a series grew between two scrapes. */
export const grew = (before: MetricsSample, after: MetricsSample, series: string): number => metric(after, series) - metric(before, series);
