// One way tests read a /metrics endpoint: every sample, or the sum of one
// metric's samples by exact name (never by prefix) and labels.
import { readFile } from 'node:fs/promises';
import { parseMetricsText, sumOf, type Sample } from '../../controller/src/local/metrics-text.js';

/** Every sample a /metrics endpoint (its full URL) serves. */
export async function scrape(url: string, headers: Record<string, string> = {}): Promise<Sample[]> {
  return parseMetricsText(await (await fetch(url, { headers })).text());
}

/** The sum of the samples named exactly `name` whose labels include `where`. */
export async function metricAt(url: string, name: string, where: Record<string, string> = {}): Promise<number> {
  return sumOf(await scrape(url), name, where);
}

/** A process's resident set in MB, from /proc (Linux). */
export async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? NaN) / 1024);
}
