// The business impact of a rollout from its totals per version: accuracy and
// error rate as proportions, latency as a mean with its standard error from
// the histogram's buckets. Pure.
import type { ModelRolloutSpec } from '../api/schema.js';
import { businessImpact, type BusinessImpact } from '../stats/business-impact.js';

/** One version's totals over a whole rollout: what the business impact is computed from. */
export interface VersionTotals {
  version: string;
  requests: number;
  errors: number;
  labelled: number;
  correct: number;
  meanLatencyMs: number;
  /** Standard error of the mean latency, from the histogram's bucket midpoints. */
  latencySeMs: number;
}

/** Mean and its standard error from cumulative histogram buckets, each bucket at its midpoint. */
export function histogramMoments(
  buckets: { le: number; value: number }[],
): { n: number; mean: number; se: number } | undefined {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const finite = sorted.filter((b) => Number.isFinite(b.le));
  if (finite.length === 0) return undefined;
  const counts: { mid: number; count: number }[] = [];
  let previousLe = 0;
  let previousCount = 0;
  for (const b of sorted) {
    // The +Inf bucket has no upper edge: its requests count at the last finite bound.
    const mid = Number.isFinite(b.le) ? (previousLe + b.le) / 2 : finite.at(-1)!.le;
    counts.push({ mid, count: Math.max(0, b.value - previousCount) });
    previousCount = Math.max(previousCount, b.value);
    if (Number.isFinite(b.le)) previousLe = b.le;
  }
  const n = counts.reduce((a, c) => a + c.count, 0);
  if (n < 2) return undefined;
  const mean = counts.reduce((a, c) => a + c.mid * c.count, 0) / n;
  const variance = counts.reduce((a, c) => a + c.count * (c.mid - mean) ** 2, 0) / (n - 1);
  return { n, mean, se: Math.sqrt(variance / n) };
}

/** The seed's business value model on the rollout's totals: accuracy and error rate in points, latency in ms. */
export function impactFromTotals(
  stable: VersionTotals,
  canary: VersionTotals,
  coefficients: NonNullable<ModelRolloutSpec['analysis']['business']>,
  alpha: number,
): BusinessImpact {
  const points = (x: number, n: number) => ({ p: x / n, se: 100 * Math.sqrt(((x / n) * (1 - x / n)) / n) });
  const [as, ac] = [points(stable.correct, stable.labelled), points(canary.correct, canary.labelled)];
  const [es, ec] = [points(stable.errors, stable.requests), points(canary.errors, canary.requests)];
  return businessImpact(
    coefficients,
    {
      accuracyPoints: { estimate: 100 * (ac.p - as.p), se: Math.hypot(as.se, ac.se) },
      latencyMs: {
        estimate: canary.meanLatencyMs - stable.meanLatencyMs,
        se: Math.hypot(stable.latencySeMs, canary.latencySeMs),
      },
      errorRatePoints: { estimate: 100 * (ec.p - es.p), se: Math.hypot(es.se, ec.se) },
    },
    alpha,
    coefficients.materialValue,
  );
}
