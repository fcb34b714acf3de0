// One way tests read a /metrics endpoint: every sample, or the sum of one
// metric's samples by exact name (never by prefix) and labels.
import { parseMetricsText, sumOf, type Sample } from '../../controller/src/local/metrics-text.js';

/** Every sample a /metrics endpoint (its full URL) serves. */
export async function scrape(url: string, headers: Record<string, string> = {}): Promise<Sample[]> {
  return parseMetricsText(await (await fetch(url, { headers })).text());
}

/** The sum of the samples named exactly `name` whose labels include `where`. */
export async function metricAt(url: string, name: string, where: Record<string, string> = {}): Promise<number> {
  return sumOf(await scrape(url), name, where);
}
