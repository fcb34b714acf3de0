// Business impact of shipping the canary: the seed's linear value model with a
// delta-method confidence interval, and a recommendation.
import { checkAlpha, normalCdf, normalQuantile } from './distributions.js';

export interface BusinessCoefficients {
  /** Value per percentage point of accuracy gained. */
  revenuePerAccuracyPoint: number;
  /** Cost per millisecond of added latency. */
  costPerMs: number;
  /** Value per percentage point of error rate (negative: errors cost). */
  riskPerErrorPoint: number;
}

/** A difference canary − stable with its standard error. */
export interface Delta {
  estimate: number;
  se: number;
}

export interface BusinessDeltas {
  /** Accuracy difference in percentage points. */
  accuracyPoints: Delta;
  /** Latency difference in milliseconds. */
  latencyMs: Delta;
  /** Error-rate difference in percentage points. */
  errorRatePoints: Delta;
}

export type Recommendation = 'STRONG_RECOMMEND' | 'RECOMMEND' | 'CONTINUE_TESTING' | 'REJECT';

export interface BusinessImpact {
  value: number;
  se: number;
  ci: [number, number];
  /** Probability, under the normal approximation, that the true value is above 0. */
  probabilityPositive: number;
  recommendation: Recommendation;
  /** Each term's contribution to the value. */
  contributions: { accuracy: number; latency: number; errorRate: number };
}

/**
 * Value = R·Δaccuracy − C·Δlatency + K·Δerror-rate. It is linear in the deltas,
 * so the delta method gives Var = R²·se²(Δacc) + C²·se²(Δlat) + K²·se²(Δerr),
 * treating the three estimates as independent (they come from different
 * counters); CI = value ± z₁₋α/₂·se (Casella & Berger, Statistical Inference,
 * §5.5.4). Recommendation:
 *   REJECT            the whole interval is below 0;
 *   CONTINUE_TESTING  the interval contains 0;
 *   RECOMMEND         the interval is above 0;
 *   STRONG_RECOMMEND  the interval is above `materialValue` and P(value > 0) ≥ 1 − α/10.
 */
export function businessImpact(
  coefficients: BusinessCoefficients,
  deltas: BusinessDeltas,
  alpha = 0.05,
  materialValue = 0,
): BusinessImpact {
  checkAlpha(alpha);
  const { revenuePerAccuracyPoint: r, costPerMs: c, riskPerErrorPoint: k } = coefficients;
  for (const [name, d] of Object.entries(deltas) as [string, Delta][]) {
    if (!Number.isFinite(d.estimate) || !(d.se >= 0))
      throw new RangeError(`${name}: estimate ${d.estimate} and se ${d.se} must be finite, with se >= 0`);
  }
  const contributions = {
    accuracy: r * deltas.accuracyPoints.estimate,
    latency: -c * deltas.latencyMs.estimate,
    errorRate: k * deltas.errorRatePoints.estimate,
  };
  const value = contributions.accuracy + contributions.latency + contributions.errorRate;
  const se = Math.sqrt(
    (r * deltas.accuracyPoints.se) ** 2 + (c * deltas.latencyMs.se) ** 2 + (k * deltas.errorRatePoints.se) ** 2,
  );
  const half = normalQuantile(1 - alpha / 2) * se;
  const ci: [number, number] = [value - half, value + half];
  const probabilityPositive = se === 0 ? (value > 0 ? 1 : value < 0 ? 0 : 0.5) : normalCdf(value / se);
  let recommendation: Recommendation;
  if (ci[1] < 0) recommendation = 'REJECT';
  else if (ci[0] <= 0) recommendation = 'CONTINUE_TESTING';
  else if (ci[0] > materialValue && probabilityPositive >= 1 - alpha / 10) recommendation = 'STRONG_RECOMMEND';
  else recommendation = 'RECOMMEND';
  return { value, se, ci, probabilityPositive, recommendation, contributions };
}
