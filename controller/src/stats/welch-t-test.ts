// Welch's unequal-variance t-test from summary statistics.
import { checkAlpha, tInference } from './distributions.js';
import type { Moments } from './moments-from-sums.js';

export interface WelchResult {
  test: 'welch-t';
  /** canary mean − stable mean */
  difference: number;
  t: number;
  /** Welch–Satterthwaite degrees of freedom. */
  df: number;
  pValue: number;
  /** t-based interval for canary − stable at 1 − alpha. */
  ci: [number, number];
  samples: { stable: number; canary: number };
}

/**
 * t = (x̄c − x̄s)/√(s²s/ns + s²c/nc), with Welch–Satterthwaite
 *   df = (s²s/ns + s²c/nc)² / ((s²s/ns)²/(ns − 1) + (s²c/nc)²/(nc − 1)),
 * two-sided p = 2·T(−|t|; df), CI = difference ± t₁₋α/₂,df · SE.
 * Welch (1947), Biometrika 34:28–35; scipy.stats.ttest_ind_from_stats(equal_var=False).
 * Assumes independent samples with roughly normal means (the CLT at these sizes).
 * Needs n ≥ 2 per arm. With both SDs 0: t = 0 and p = 1 if the means are equal,
 * otherwise t = ±∞ and p = 0, df = ns + nc − 2.
 */
export function welchTTest(stable: Moments, canary: Moments, alpha = 0.05): WelchResult {
  checkAlpha(alpha);
  for (const [name, m] of [
    ['stable', stable],
    ['canary', canary],
  ] as const) {
    if (!(m.n >= 2)) throw new RangeError(`${name}.n: ${m.n}; Welch's t-test needs at least 2 observations per arm`);
    if (!(m.sd >= 0) || !Number.isFinite(m.mean))
      throw new RangeError(`${name}: mean ${m.mean} and sd ${m.sd} must be finite, with sd >= 0`);
  }
  const vs = (stable.sd * stable.sd) / stable.n;
  const vc = (canary.sd * canary.sd) / canary.n;
  const se = Math.sqrt(vs + vc);
  const difference = canary.mean - stable.mean;
  const samples = { stable: stable.n, canary: canary.n };
  if (se === 0) {
    const t = difference === 0 ? 0 : Math.sign(difference) * Infinity;
    return {
      test: 'welch-t',
      difference,
      t,
      df: stable.n + canary.n - 2,
      pValue: difference === 0 ? 1 : 0,
      ci: [difference, difference],
      samples,
    };
  }
  const df = (vs + vc) ** 2 / (vs ** 2 / (stable.n - 1) + vc ** 2 / (canary.n - 1));
  const { t, pValue, ci } = tInference(difference, se, df, alpha);
  return { test: 'welch-t', difference, t, df, pValue, ci, samples };
}
