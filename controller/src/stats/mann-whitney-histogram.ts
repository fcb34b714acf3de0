// Mann–Whitney U from two Prometheus histograms (cumulative counts per `le`).
import { checkCount, twoSidedNormalP } from './distributions.js';

export interface HistogramSample {
  /** Cumulative count at each bucket bound, as Prometheus exports `_bucket{le=...}`. */
  cumulative: number[];
}

export interface MannWhitneyResult {
  test: 'mann-whitney-u';
  /** The canary's U: pairs where the canary's value is larger, ties counting 1/2. */
  u: number;
  z: number;
  pValue: number;
  /** U/(ns·nc): probability a canary observation exceeds a stable one (ties 1/2). 0.5 = no shift. */
  probabilityCanaryHigher: number;
  samples: { stable: number; canary: number };
}

function perBucket(cumulative: number[], field: string): number[] {
  return cumulative.map((count, i) => {
    checkCount(count, `${field}[${i}]`);
    const before = i === 0 ? 0 : cumulative[i - 1]!;
    if (count < before)
      throw new RangeError(
        `${field}[${i}]: ${count} is below the previous bucket's ${before}; cumulative counts never decrease`,
      );
    return count - before;
  });
}

/**
 * Every bucket is one tie group: its observations share the bucket's midrank.
 *   U_c = R_c − nc(nc + 1)/2, μ = ns·nc/2,
 *   σ² = ns·nc/12 · ((N + 1) − Σ(t³ − t)/(N(N − 1)))   (tie correction),
 *   z = (U_c − μ − ½·sign(U_c − μ))/σ                   (continuity correction),
 * two-sided p = 2Φ(−|z|). Mann & Whitney (1947); Hollander & Wolfe,
 * Nonparametric Statistical Methods, §4.1; equals scipy.stats.mannwhitneyu(
 * canary, stable, method='asymptotic', use_continuity=True) on the histograms
 * expanded to one value per bucket. `bounds` must rise and end with +Inf.
 * Throws a RangeError when an arm is empty or the counts are not cumulative.
 */
export function mannWhitneyHistogram(
  bounds: number[],
  stable: HistogramSample,
  canary: HistogramSample,
): MannWhitneyResult {
  if (bounds.length === 0)
    throw new RangeError('buckets: no bucket bounds; expected rising le values ending with +Inf');
  bounds.forEach((b, i) => {
    if (Number.isNaN(b) || (i > 0 && b <= bounds[i - 1]!))
      throw new RangeError(`buckets[${i}]: ${b} does not rise above ${bounds[i - 1]}; bucket bounds must rise`);
  });
  if (bounds.at(-1) !== Infinity)
    throw new RangeError(
      `buckets: the last bound is ${bounds.at(-1)}; it must be +Inf so every observation is counted`,
    );
  for (const [name, s] of [
    ['stable', stable],
    ['canary', canary],
  ] as const) {
    if (s.cumulative.length !== bounds.length)
      throw new RangeError(`${name}: ${s.cumulative.length} counts for ${bounds.length} buckets`);
  }
  const s = perBucket(stable.cumulative, 'stable');
  const c = perBucket(canary.cumulative, 'canary');
  const ns = s.reduce((a, b) => a + b, 0);
  const nc = c.reduce((a, b) => a + b, 0);
  if (ns === 0 || nc === 0)
    throw new RangeError(
      `${ns === 0 ? 'stable' : 'canary'}: the histogram is empty; Mann–Whitney needs observations in both arms`,
    );
  const total = ns + nc;
  let below = 0;
  let rankSumCanary = 0;
  let tieTerm = 0;
  for (let j = 0; j < bounds.length; j++) {
    const t = s[j]! + c[j]!;
    if (t === 0) continue;
    rankSumCanary += c[j]! * (below + (t + 1) / 2);
    tieTerm += t ** 3 - t;
    below += t;
  }
  const u = rankSumCanary - (nc * (nc + 1)) / 2;
  const mean = (ns * nc) / 2;
  const variance = ((ns * nc) / 12) * (total + 1 - tieTerm / (total * (total - 1)));
  const deviation = u - mean;
  const corrected = Math.abs(deviation) <= 0.5 ? 0 : deviation - 0.5 * Math.sign(deviation);
  const z = variance > 0 ? corrected / Math.sqrt(variance) : 0;
  return {
    test: 'mann-whitney-u',
    u,
    z,
    pValue: twoSidedNormalP(z),
    probabilityCanaryHigher: u / (ns * nc),
    samples: { stable: ns, canary: nc },
  };
}
