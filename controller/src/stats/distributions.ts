// Distribution functions, from stdlib (@stdlib/stats-base-dists-*): well kept,
// double precision, one small package per function. Upper tails use symmetry
// where it exists, so small p-values keep their precision.
import normalCdfImpl from '@stdlib/stats-base-dists-normal-cdf';
import normalQuantileImpl from '@stdlib/stats-base-dists-normal-quantile';
import tCdfImpl from '@stdlib/stats-base-dists-t-cdf';
import tQuantileImpl from '@stdlib/stats-base-dists-t-quantile';
import gammaincImpl from '@stdlib/math-base-special-gammainc';
import gammalnImpl from '@stdlib/math-base-special-gammaln';
import betalnImpl from '@stdlib/math-base-special-betaln';
import betaincImpl from '@stdlib/math-base-special-betainc';

/** Φ(x), the standard normal CDF. */
export const normalCdf = (x: number): number => normalCdfImpl(x, 0, 1);
/** Φ⁻¹(p), the standard normal quantile. */
export const normalQuantile = (p: number): number => normalQuantileImpl(p, 0, 1);
/** Two-sided p-value of a standard normal statistic: 2Φ(−|z|). */
export const twoSidedNormalP = (z: number): number => Math.min(1, 2 * normalCdf(-Math.abs(z)));
/** CDF of Student's t with `df` degrees of freedom (df may be fractional). */
export const tCdf = (x: number, df: number): number => tCdfImpl(x, df);
export const tQuantile = (p: number, df: number): number => tQuantileImpl(p, df);
/** Two-sided p-value of a t statistic: 2·T(−|t|; df). */
export const twoSidedTP = (t: number, df: number): number => Math.min(1, 2 * tCdf(-Math.abs(t), df));
/** Student's t on an estimate with standard error se > 0: the statistic, its two-sided p-value and the 1 − alpha interval. */
export function tInference(
  estimate: number,
  se: number,
  df: number,
  alpha: number,
): { t: number; pValue: number; ci: [number, number] } {
  const t = estimate / se;
  const half = tQuantile(1 - alpha / 2, df) * se;
  return { t, pValue: twoSidedTP(t, df), ci: [estimate - half, estimate + half] };
}
/** Upper tail of the chi-squared distribution, 1 − F(x; k) = Q(k/2, x/2), the upper regularized incomplete gamma (precise for tiny p). */
export const chiSquareSf = (x: number, k: number): number =>
  x === Infinity ? 0 : x <= 0 ? 1 : gammaincImpl(x / 2, k / 2, true, true);
/** ln B(a, b), the log of the beta function. */
export const betaln = (a: number, b: number): number => betalnImpl(a, b);
/** ln Γ(x). */
export const gammaln = (x: number): number => gammalnImpl(x);
/** I_x(a, b), the regularized incomplete beta function: the CDF of Beta(a, b) at x. */
export const betaIncomplete = (x: number, a: number, b: number): number => betaincImpl(x, a, b);

/** Throws a RangeError naming `field` unless 0 < alpha < 1. */
export function checkAlpha(alpha: number, field = 'alpha'): void {
  if (!(alpha > 0 && alpha < 1))
    throw new RangeError(
      `${field}: ${alpha} is not a significance level; expected a number between 0 and 1, such as 0.05`,
    );
}

/** Whole, non-negative count check with a message naming the field. */
export function checkCount(value: number, field: string, minimum = 0): void {
  if (!Number.isInteger(value) || value < minimum)
    throw new RangeError(`${field}: ${value} is not a whole number >= ${minimum}`);
}
