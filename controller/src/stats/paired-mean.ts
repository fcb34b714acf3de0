// Paired t-test from the sufficient statistics of per-pair differences.
import { checkAlpha, checkCount, tInference } from './distributions.js';
import { momentsFromSums } from './moments-from-sums.js';

/** Count, sum and sum of squares of the per-pair differences d = canary − stable. */
export interface PairedDifferences {
  n: number;
  sum: number;
  sumOfSquares: number;
}

export interface PairedMeanResult {
  test: 'paired-t';
  /** Mean of d = canary − stable. */
  difference: number;
  /** Sample standard deviation of d (n − 1 in the denominator). */
  sd: number;
  /** Variance of the mean difference, sd²/n: the V an mSPRT look needs. */
  variance: number;
  t: number;
  /** n − 1. */
  degreesOfFreedom: number;
  pValue: number;
  /** t-based interval for the mean of canary − stable at 1 − alpha. */
  ci: [number, number];
  pairs: number;
}

/**
 * With d̄ = Σd/n and s² = (Σd² − n·d̄²)/(n − 1) (see momentsFromSums),
 *   t = d̄/(s/√n),  df = n − 1,  two-sided p = 2·T(−|t|; df),  CI = d̄ ± t₁₋α/₂,df · s/√n.
 * Student (1908), "The probable error of a mean", Biometrika 6:1–25 (the paired
 * sleep data in the tests); equals scipy.stats.ttest_rel(canary, stable) and its
 * confidence_interval(1 − alpha). Assumes independent pairs whose differences
 * have a roughly normal mean. Needs n ≥ 2; throws a RangeError naming the field
 * otherwise. With s = 0: t = 0 and p = 1 if d̄ = 0, otherwise t = ±∞ and p = 0.
 */
export function pairedMeanTest(differences: PairedDifferences, alpha = 0.05): PairedMeanResult {
  checkAlpha(alpha);
  checkCount(differences.n, 'differences.n', 2);
  const moments = momentsFromSums(differences.n, differences.sum, differences.sumOfSquares, 'differences');
  const { n, mean: difference, sd } = moments;
  const variance = (sd * sd) / n;
  const se = Math.sqrt(variance);
  const degreesOfFreedom = n - 1;
  if (se === 0) {
    return {
      test: 'paired-t',
      difference,
      sd,
      variance,
      t: difference === 0 ? 0 : Math.sign(difference) * Infinity,
      degreesOfFreedom,
      pValue: difference === 0 ? 1 : 0,
      ci: [difference, difference],
      pairs: n,
    };
  }
  const { t, pValue, ci } = tInference(difference, se, degreesOfFreedom, alpha);
  return {
    test: 'paired-t',
    difference,
    sd,
    variance,
    t,
    degreesOfFreedom,
    pValue,
    ci,
    pairs: n,
  };
}
