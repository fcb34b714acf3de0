// Totals of each version over a whole rollout, from Prometheus: requests,
// errors, labelled and correct predictions, and latency moments. The report
// and the demo's results both read them here.
import type { ModelRollout } from '../api/schema.js';
import { histogramMoments, type VersionTotals } from '../analysis/impact.js';
import type { PlannedQuery } from '../analysis/observations.js';
import { interpret, type PrometheusMetrics } from '../providers/prometheus/provider.js';
import { ISTIO_DURATION, ISTIO_REQUESTS, PREDICTOR_FEEDBACK } from '../../../shared/metric-names.js';

/** One query's answer at `time` (seconds): one number, or undefined (no data, or ambiguous). */
export async function scalarAt(prom: PrometheusMetrics, query: string, time: number): Promise<number | undefined> {
  const value = interpret({ key: query, kind: 'scalar', query }, await prom.instant(query, time));
  return typeof value === 'number' ? value : undefined;
}

/**
 * Stable's and the canary's totals over `span` (seconds since the epoch). A
 * version whose requests, feedback or latency Prometheus does not have is left
 * out; every query that failed is listed with what it was for.
 */
export async function collectTotals(
  prom: PrometheusMetrics,
  rollout: ModelRollout,
  span: { start: number; end: number },
): Promise<{ totals: VersionTotals[]; failures: { what: string; err: unknown }[] }> {
  const { spec } = rollout;
  const whole = `${span.end - span.start}s`;
  const failures: { what: string; err: unknown }[] = [];
  const answer = async (query: string, what: string, kind: PlannedQuery['kind']) => {
    try {
      return interpret({ key: what, kind, query }, await prom.instant(query, span.end));
    } catch (err) {
      failures.push({ what, err });
      return undefined;
    }
  };
  const at = async (query: string, what: string) => {
    const value = await answer(query, what, 'scalar');
    return typeof value === 'number' ? value : undefined;
  };
  const totals: VersionTotals[] = [];
  for (const version of [spec.stable.version, spec.canary.version]) {
    const served = `destination_version="${version}",request_mirrored!="true"`;
    const feedback = `model="${spec.model}",version="${version}"`;
    const [requests, errors, correct, labelled] = await Promise.all([
      at(`sum(increase(${ISTIO_REQUESTS}{${served}}[${whole}]))`, 'requests'),
      at(`sum(increase(${ISTIO_REQUESTS}{${served},response_code!~"2.."}[${whole}])) or vector(0)`, 'errors'),
      at(`sum(increase(${PREDICTOR_FEEDBACK}{${feedback},outcome="correct"}[${whole}]))`, 'feedback'),
      at(`sum(increase(${PREDICTOR_FEEDBACK}{${feedback}}[${whole}]))`, 'feedback'),
    ]);
    const buckets = await answer(
      `sum by (le) (increase(${ISTIO_DURATION}_bucket{${served}}[${whole}]))`,
      'latency histogram',
      'buckets',
    );
    const latency = Array.isArray(buckets) ? histogramMoments(buckets) : undefined;
    if (requests === undefined || labelled === undefined || correct === undefined || !latency) continue;
    totals.push({
      version,
      requests,
      errors: errors ?? 0,
      labelled,
      correct,
      meanLatencyMs: latency.mean,
      latencySeMs: latency.se,
    });
  }
  return { totals, failures };
}
