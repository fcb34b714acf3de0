// Correlation between two metrics measured over the same analysis windows: does
// a model metric (accuracy) move with the business value? Pearson's r with
// Fisher's z interval, and Spearman's rank correlation for monotone but
// non-linear links and outlying windows.
import { sampleCorrelation, sampleRankCorrelation } from 'simple-statistics';
import { checkAlpha, normalQuantile, twoSidedTP } from './distributions.js';

export interface Correlation {
  /** Pairs used (windows where both metrics had a value). */
  n: number;
  /** Pearson's r. */
  r: number;
  /** Two-sided p-value of r = 0: t = r·√((n−2)/(1−r²)) on n−2 degrees of freedom. */
  pValue: number;
  /** 1 − alpha interval for r: tanh(atanh(r) ± z₁₋α/₂ / √(n−3)) (Fisher). */
  ci: [number, number];
  /** Spearman's rho (Pearson's r of average ranks) and its t-approximation p-value. */
  rho: number;
  rhoPValue: number;
}

/** Pearson's r (simple-statistics), NaN when either variable does not vary, clamped to [−1, 1] against rounding. */
function pearson(x: number[], y: number[]): number {
  const r = sampleCorrelation(x, y);
  return Number.isFinite(r) ? Math.max(-1, Math.min(1, r)) : NaN;
}

const tTestOfR = (r: number, n: number) =>
  Math.abs(r) === 1 ? 0 : twoSidedTP(r * Math.sqrt((n - 2) / (1 - r * r)), n - 2);

/** Needs at least 4 pairs (Fisher's interval divides by √(n−3)) and both metrics varying; otherwise undefined. */
export function correlation(x: number[], y: number[], alpha = 0.05): Correlation | undefined {
  checkAlpha(alpha);
  if (x.length !== y.length) throw new RangeError(`x and y: ${x.length} and ${y.length} values; expected pairs`);
  if ([...x, ...y].some((v) => !Number.isFinite(v)))
    throw new RangeError('x and y: every value must be a finite number');
  const n = x.length;
  if (n < 4) return undefined;
  const r = pearson(x, y);
  if (Number.isNaN(r)) return undefined;
  const half = normalQuantile(1 - alpha / 2) / Math.sqrt(n - 3);
  const z = Math.atanh(Math.min(Math.max(r, -1 + 1e-15), 1 - 1e-15));
  // Spearman's rho: Pearson's r of midranks (ties share their average rank), as scipy.stats.spearmanr.
  const rhoRaw = sampleRankCorrelation(x, y);
  const rho = Number.isFinite(rhoRaw) ? Math.max(-1, Math.min(1, rhoRaw)) : NaN;
  return {
    n,
    r,
    pValue: tTestOfR(r, n),
    ci: [Math.tanh(z - half), Math.tanh(z + half)],
    rho,
    rhoPValue: Number.isNaN(rho) ? 1 : tTestOfR(rho, n),
  };
}
