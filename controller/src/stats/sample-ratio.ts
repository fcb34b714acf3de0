// Sample-ratio mismatch (SRM): do the requests each version served match the
// weights the route gave them? A mismatch means assignment is broken (a
// version drops or diverts traffic before it is counted, a bot cohort lands on
// one version), and then no comparison of those versions can be trusted.
import { checkCount, chiSquareSf, gammaln } from './distributions.js';

export interface GoodnessOfFit {
  chiSquared: number;
  df: number;
  pValue: number;
}

/**
 * Pearson's χ² goodness of fit: χ² = Σ (Oᵢ − Eᵢ)²/Eᵢ with k − 1 degrees of
 * freedom (Pearson 1900; Agresti, Categorical Data Analysis §1.5). Equals
 * scipy.stats.chisquare(observed, expected) when both sum to the same total.
 * Every expected count must be above 0; the approximation wants about 5 or more.
 */
export function chiSquaredGoodnessOfFit(observed: number[], expected: number[]): GoodnessOfFit {
  if (observed.length !== expected.length)
    throw new RangeError(`expected: ${expected.length} counts, but observed has ${observed.length}`);
  if (observed.length < 2) throw new RangeError(`observed: ${observed.length} categories; the test needs at least 2`);
  expected.forEach((e, i) => {
    if (!(e > 0 && Number.isFinite(e))) throw new RangeError(`expected[${i}]: ${e} is not a count above 0`);
  });
  let chiSquared = 0;
  observed.forEach((o, i) => {
    if (!(o >= 0 && Number.isFinite(o))) throw new RangeError(`observed[${i}]: ${o} is not a count >= 0`);
    chiSquared += (o - expected[i]!) ** 2 / expected[i]!;
  });
  const df = observed.length - 1;
  return { chiSquared, df, pValue: chiSquareSf(chiSquared, df) };
}

/** Requests each version served while one set of weights was in force. */
export interface RatioPeriod {
  /** Requests per version, in the same order as `weights`. */
  counts: number[];
  /** The route's weights in that period (any scale; percentages in practice). */
  weights: number[];
}

export interface SampleRatioResult extends GoodnessOfFit {
  /** Requests per version, summed over the periods. */
  observed: number[];
  /** What the weights in force predict, summed over the periods. */
  expected: number[];
  /** The smallest expected count: below `SRM_MIN_EXPECTED` the test is not asked. */
  minimumExpected: number;
}

/**
 * The χ² approximation's floor for every expected count, as for the
 * comparisons' proportion minimum (EVIDENCE_MINIMUMS): 10, not the textbook 5,
 * because the check repeats at every look.
 */
export const SRM_MIN_EXPECTED = 10;

/**
 * The SRM test over periods whose weights may differ (a canary's stages, a
 * bandit's intervals). Each period's total is split by its own weights, and
 * observed and expected counts are summed per version before one χ² goodness of
 * fit with k − 1 degrees of freedom, as GrowthBook does for bandits (its
 * "SRM for multi-period experiments"): comparing the pooled counts with the
 * pooled shares of the last period would call a bandit's moving weights a
 * mismatch. A version with weight 0 in every period that still served
 * SRM_MIN_EXPECTED requests or more is a mismatch outright (p = 0); with fewer
 * (a request in flight when the route changed) it drops out. Returns undefined
 * when fewer than two versions remain or the smallest expected count is below
 * SRM_MIN_EXPECTED.
 */
export function sampleRatioMismatch(periods: RatioPeriod[]): SampleRatioResult | undefined {
  const k = periods[0]?.weights.length ?? 0;
  const observed = new Array<number>(k).fill(0);
  const expected = new Array<number>(k).fill(0);
  periods.forEach((period, p) => {
    if (period.weights.length !== k || period.counts.length !== k)
      throw new RangeError(
        `periods[${p}]: ${period.counts.length} counts and ${period.weights.length} weights; every period lists the same ${k} versions`,
      );
    period.weights.forEach((w, i) => {
      if (!(w >= 0 && Number.isFinite(w)))
        throw new RangeError(`periods[${p}].weights[${i}]: ${w} is not a weight >= 0`);
    });
    period.counts.forEach((c, i) => checkCount(c, `periods[${p}].counts[${i}]`));
    const total = period.counts.reduce((a, b) => a + b, 0);
    const weightSum = period.weights.reduce((a, b) => a + b, 0);
    if (weightSum === 0) {
      if (total > 0) throw new RangeError(`periods[${p}]: ${total} requests while every weight was 0`);
      return;
    }
    period.counts.forEach((c, i) => {
      observed[i]! += c;
      expected[i]! += (total * period.weights[i]!) / weightSum;
    });
  });
  const leaked = observed.some((o, i) => expected[i] === 0 && o >= SRM_MIN_EXPECTED);
  const kept = observed.map((_, i) => i).filter((i) => expected[i]! > 0 || (leaked && observed[i]! > 0));
  if (kept.length < 2) return undefined;
  const o = kept.map((i) => observed[i]!);
  const e = kept.map((i) => expected[i]!);
  if (leaked)
    return { chiSquared: Infinity, df: kept.length - 1, pValue: 0, observed: o, expected: e, minimumExpected: 0 };
  const minimumExpected = Math.min(...e);
  if (minimumExpected < SRM_MIN_EXPECTED) return undefined;
  return { ...chiSquaredGoodnessOfFit(o, e), observed: o, expected: e, minimumExpected };
}

/** The Dirichlet prior's concentration around the weights: ssrm's default. */
export const SSRM_CONCENTRATION = 10_000;

/**
 * The sequential SRM test of Lindon & Malek (2022, "Anytime-valid inference
 * for multinomial count data", NeurIPS; Optimizely's ssrm): the Bayes factor of
 * a multinomial with a Dirichlet(c·θ₀) prior against the null probabilities θ₀,
 *   ln BF = ln Γ(c) − ln Γ(c + n) + Σ [ln Γ(cθᵢ + xᵢ) − ln Γ(cθᵢ)] − Σ xᵢ ln θᵢ
 * (the multinomial coefficients cancel), which depends only on the cumulative
 * counts x. 1/BF at a look is a valid p-value at any stopping time, so the
 * running minimum over looks (`previousP`) is an anytime-valid p-value: the
 * check can repeat at every interval without inflating false alarms. Versions
 * with null probability 0 must have no counts (the caller drops them).
 * Checked against ssrm's sequential_p_values.
 */
export function sequentialSampleRatio(
  counts: number[],
  weights: number[],
  previousP = 1,
  concentration = SSRM_CONCENTRATION,
): { logBayesFactor: number; pValue: number } {
  const weightSum = weights.reduce((a, b) => a + b, 0);
  let logBayesFactor = gammaln(concentration) - gammaln(concentration + counts.reduce((a, b) => a + b, 0));
  counts.forEach((x, i) => {
    const theta = weights[i]! / weightSum;
    if (!(theta > 0)) throw new RangeError(`weights[${i}]: ${weights[i]} leaves version ${i} no share; drop it first`);
    const alpha = concentration * theta;
    logBayesFactor += gammaln(alpha + x) - gammaln(alpha) - x * Math.log(theta);
  });
  return { logBayesFactor, pValue: Math.min(previousP, 1, Math.exp(-logBayesFactor)) };
}
