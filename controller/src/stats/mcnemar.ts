// McNemar's test for paired proportions, with the Wald interval for the paired difference.
import { betaln, checkAlpha, checkCount, normalQuantile, twoSidedNormalP } from './distributions.js';

/** Discordant counts of a shadow comparison: both versions answered the same labelled requests. */
export interface PairedProportionTable {
  /** Pairs where only the canary was right (b). */
  canaryOnly: number;
  /** Pairs where only stable was right (c). */
  stableOnly: number;
  /** All labelled pairs (n); the concordant ones are n − b − c. */
  pairs: number;
}

export interface PairedProportionResult {
  test: 'mcnemar';
  /** p̂_canary − p̂_stable = (b − c)/n. */
  difference: number;
  /** Wald variance of the difference, ((b + c)/n − ((b − c)/n)²)/n: the V an mSPRT look needs. */
  variance: number;
  /** difference/√variance. */
  z: number;
  /** Two-sided normal p-value of z. */
  pValue: number;
  /** Wald interval for canary − stable at 1 − alpha. */
  ci: [number, number];
  /** McNemar's χ² without continuity correction, (b − c)²/(b + c). */
  statistic: number;
  /** Upper tail of χ²(1) at `statistic`. */
  mcnemarPValue: number;
  /** Exact McNemar p-value: two-sided binomial test of b in b + c at 1/2. */
  exactPValue: number;
  pairs: number;
}

/**
 * P(X ≤ k) for X ~ Binomial(m, 1/2) and k ≤ m/2. Starts from the largest term,
 * C(m, k)/2^m = exp(−ln(m + 1) − ln B(m − k + 1, k + 1) − m ln 2), and walks down with
 * C(m, i − 1) = C(m, i)·i/(m − i + 1) until the terms stop counting.
 */
function binomialHalfCdf(k: number, m: number): number {
  let term = Math.exp(-Math.log(m + 1) - betaln(m - k + 1, k + 1) - m * Math.LN2);
  let total = 0;
  for (let i = k; i >= 0 && term > total * 1e-17; i--) {
    total += term;
    term *= i / (m - i + 1);
  }
  return total;
}

/**
 * Compares two versions scored on the same n pairs, from the discordant counts
 * b (only the canary right) and c (only stable right):
 *   d = (b − c)/n = p̂_canary − p̂_stable,  V = ((b + c)/n − d²)/n,
 *   z = d/√V,  CI = d ± z₁₋α/₂ √V  (the Wald interval, Agresti, Categorical Data
 *   Analysis (2nd ed.), §10.1; for his Table 10.1 the interval is (−0.06, −0.02)
 *   and McNemar's z = (b − c)/√(b + c) = −4.17, where this Wald z is −4.19).
 * McNemar's statistic χ² = (b − c)²/(b + c) (no continuity correction) has p = P(χ²₁ > χ²),
 * computed as 2Φ(−√χ²); the exact p is min(1, 2·P(X ≤ min(b, c))), X ~ Bin(b + c, 1/2).
 * McNemar (1947), Psychometrika 12:153–157; equal to statsmodels
 * mcnemar(table, exact=False, correction=False) and mcnemar(table, exact=True).
 * The z and interval assume n large enough for the normal approximation; they
 * feed the sequential tests as (difference, variance). With no discordant pairs
 * the statistic and z are 0 and every p-value 1; when all pairs are discordant
 * in one direction V = 0, z = ±∞ and pValue 0. Throws a RangeError naming the
 * field for counts that are not whole, n < 1, or b + c > n.
 */
export function pairedProportionTest(table: PairedProportionTable, alpha = 0.05): PairedProportionResult {
  checkAlpha(alpha);
  checkCount(table.pairs, 'table.pairs', 1);
  checkCount(table.canaryOnly, 'table.canaryOnly');
  checkCount(table.stableOnly, 'table.stableOnly');
  const { canaryOnly: b, stableOnly: c, pairs: n } = table;
  if (b + c > n) throw new RangeError(`table.canaryOnly + table.stableOnly: ${b + c} is more than table.pairs (${n})`);
  const discordant = b + c;
  const difference = (b - c) / n;
  // n(b + c) − (b − c)² is exact in integers up to 2⁵³; clamp against rounding beyond.
  const variance = Math.max(0, (n * discordant - (b - c) ** 2) / n ** 3);
  const se = Math.sqrt(variance);
  const z = se === 0 ? (difference === 0 ? 0 : Math.sign(difference) * Infinity) : difference / se;
  const half = normalQuantile(1 - alpha / 2) * se;
  const statistic = discordant === 0 ? 0 : (b - c) ** 2 / discordant;
  return {
    test: 'mcnemar',
    difference,
    variance,
    z,
    pValue: twoSidedNormalP(z),
    ci: [difference - half, difference + half],
    statistic,
    mcnemarPValue: twoSidedNormalP(Math.sqrt(statistic)),
    exactPValue: discordant === 0 ? 1 : Math.min(1, 2 * binomialHalfCdf(Math.min(b, c), discordant)),
    pairs: n,
  };
}
