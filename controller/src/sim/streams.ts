// Synthetic metric streams for the simulation: per interval, requests split by
// weight, ground-truth correctness, errors and latency histograms, drawn from a
// seeded generator so every run is reproducible.
import { gaussian, seededRandom } from '../../../shared/random.js';

export interface VersionModel {
  accuracy: number;
  errorRate: number;
  /** Median latency in ms (log-normal, sigma 0.4). */
  medianLatencyMs: number;
}

export interface Scenario {
  name: string;
  stable: VersionModel;
  canary: VersionModel;
  /** What a correct policy does: promote the canary, or not. */
  canaryIsGood: boolean;
  /** Whether the canary is genuinely bad (a rollback is the right outcome). */
  canaryIsBad: boolean;
}

const BASE: VersionModel = { accuracy: 0.6, errorRate: 0.001, medianLatencyMs: 4 };
/** Accuracy 6 points either way: the effect issue 14's targets are set for. */
export const SCENARIOS: Scenario[] = [
  { name: 'equal', stable: BASE, canary: BASE, canaryIsGood: false, canaryIsBad: false },
  { name: 'better', stable: BASE, canary: { ...BASE, accuracy: 0.66 }, canaryIsGood: true, canaryIsBad: false },
  { name: 'worse-accuracy', stable: BASE, canary: { ...BASE, accuracy: 0.54 }, canaryIsGood: false, canaryIsBad: true },
  { name: 'slow', stable: BASE, canary: { ...BASE, medianLatencyMs: 8 }, canaryIsGood: false, canaryIsBad: true },
];

/** Latency bucket bounds in seconds, as a Prometheus histogram would have them. */
export const LATENCY_BOUNDS = [
  0.001,
  0.002,
  0.003,
  0.004,
  0.005,
  0.006,
  0.008,
  0.01,
  0.015,
  0.02,
  0.03,
  0.05,
  Infinity,
];

export interface ArmCounts {
  requests: number;
  correct: number;
  errors: number;
  /** Per-bucket (not cumulative) latency counts. */
  latency: number[];
}

export const emptyCounts = (): ArmCounts => ({
  requests: 0,
  correct: 0,
  errors: 0,
  latency: LATENCY_BOUNDS.map(() => 0),
});

/** Seeded request, error, latency and label streams for two versions, as the simulator feeds the engine. */
export class StreamGenerator {
  private readonly uniform: () => number;
  private readonly normal: () => number;

  constructor(seed: number) {
    this.uniform = seededRandom(seed);
    this.normal = gaussian(this.uniform);
  }

  /**
   * Binomial draw: exact by inversion (BINV, Kachitvichyanukul & Schmeiser 1988:
   * walk up the CDF, O(1 + np) uniforms) when the mean is small, normal
   * approximation (rounded, clamped) when np and n(1 − p) are both at least 10.
   */
  binomial(n: number, p: number): number {
    if (n <= 0 || p <= 0) return 0;
    if (p >= 1) return n;
    if (n * p >= 10 && n * (1 - p) >= 10) {
      return Math.min(n, Math.max(0, Math.round(n * p + Math.sqrt(n * p * (1 - p)) * this.normal())));
    }
    if (p > 0.5) return n - this.binomial(n, 1 - p);
    const q = 1 - p;
    const s = p / q;
    const a = (n + 1) * s;
    let r = q ** n;
    let u = this.uniform();
    let x = 0;
    while (u > r && x < n) {
      u -= r;
      x++;
      r *= a / x - s;
    }
    return x;
  }

  /** One interval of traffic for one version. */
  interval(model: VersionModel, requests: number): ArmCounts {
    const counts = emptyCounts();
    counts.requests = requests;
    counts.correct = this.binomial(requests, model.accuracy);
    counts.errors = this.binomial(requests, model.errorRate);
    // Multinomial over buckets by conditional binomials on the log-normal CDF.
    const shares = bucketShares(model.medianLatencyMs);
    let left = requests;
    shares.forEach((share, i) => {
      const k = i === shares.length - 1 ? left : this.binomial(left, share);
      counts.latency[i] = k;
      left -= k;
    });
    return counts;
  }

  split(total: number, canaryWeight: number): { stable: number; canary: number } {
    const canary = this.binomial(total, canaryWeight / 100);
    return { stable: total - canary, canary };
  }
}

const SHARES = new Map<number, number[]>();

/** P(bucket i | not in buckets before i) for a log-normal latency (sigma 0.4) with this median. */
function bucketShares(medianMs: number): number[] {
  let shares = SHARES.get(medianMs);
  if (!shares) {
    const mu = Math.log(medianMs / 1000);
    const cdf = (x: number) => (x === Infinity ? 1 : 0.5 * (1 + erf((Math.log(x) - mu) / (0.4 * Math.SQRT2))));
    let below = 0;
    shares = LATENCY_BOUNDS.map((bound) => {
      const p = cdf(bound);
      const share = below >= 1 ? 0 : Math.min(1, Math.max(0, (p - below) / (1 - below)));
      below = p;
      return share;
    });
    SHARES.set(medianMs, shares);
  }
  return shares;
}

/** erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): plenty for drawing buckets. */
function erf(x: number): number {
  const sign = Math.sign(x);
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return sign * y;
}

export function addCounts(into: ArmCounts, more: ArmCounts): void {
  into.requests += more.requests;
  into.correct += more.correct;
  into.errors += more.errors;
  more.latency.forEach((k, i) => (into.latency[i]! += k));
}

/** Cumulative counts, as Prometheus `_bucket` series are. */
export function cumulative(perBucket: number[]): number[] {
  let running = 0;
  return perBucket.map((k) => (running += k));
}

/** histogram_quantile's linear interpolation within the bucket holding the quantile. */
export function histogramQuantile(q: number, bounds: number[], perBucket: number[]): number | undefined {
  const total = perBucket.reduce((a, b) => a + b, 0);
  if (total === 0) return undefined;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < bounds.length; i++) {
    const count = perBucket[i]!;
    if (below + count >= rank) {
      if (bounds[i] === Infinity) return bounds[i - 1];
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      return lower + (bounds[i]! - lower) * (count === 0 ? 0 : (rank - below) / count);
    }
    below += count;
  }
  return bounds.at(-2);
}
