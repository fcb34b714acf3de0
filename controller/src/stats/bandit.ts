// Adaptive allocation over arms (model versions): who is best, how sure we
// are, and how much traffic each arm gets next. PURE and deterministic: the
// Thompson shares are computed exactly (by quadrature), never sampled, so the
// same counts always give the same weights. Weights change once per analysis
// interval, never per request.
import { betaIncomplete, betaln, normalCdf } from './distributions.js';

/** An arm's posterior for its reward: Beta for a proportion, Normal (approximate) for a mean. */
export type Posterior = { kind: 'beta'; alpha: number; beta: number } | { kind: 'normal'; mean: number; sd: number };

/** Beta(1 + successes, 1 + failures): the uniform prior updated by the counts. */
export function betaPosterior(successes: number, trials: number): Posterior {
  return { kind: 'beta', alpha: 1 + successes, beta: 1 + trials - successes };
}

function meanAndSd(p: Posterior): [number, number] {
  if (p.kind === 'normal') return [p.mean, p.sd];
  const total = p.alpha + p.beta;
  return [p.alpha / total, Math.sqrt((p.alpha * p.beta) / (total * total * (total + 1)))];
}

function pdf(p: Posterior, x: number): number {
  if (p.kind === 'normal') return Math.exp(-(((x - p.mean) / p.sd) ** 2) / 2) / (p.sd * Math.sqrt(2 * Math.PI));
  if (x <= 0 || x >= 1) return 0;
  return Math.exp((p.alpha - 1) * Math.log(x) + (p.beta - 1) * Math.log1p(-x) - betaln(p.alpha, p.beta));
}

function cdf(p: Posterior, x: number): number {
  if (p.kind === 'normal') return normalCdf((x - p.mean) / p.sd);
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  return betaIncomplete(x, p.alpha, p.beta);
}

function checkPosterior(p: Posterior, i: number): void {
  const bad =
    p.kind === 'beta'
      ? !(p.alpha >= 1 && p.beta >= 1 && Number.isFinite(p.alpha + p.beta))
      : !(p.sd > 0 && Number.isFinite(p.sd) && Number.isFinite(p.mean));
  if (bad)
    throw new RangeError(
      `arms[${i}]: ${JSON.stringify(p)} is not a posterior weir can integrate (Beta needs alpha, beta >= 1; Normal a finite mean and sd > 0)`,
    );
}

/** Simpson intervals per arm: with ±12 sd covered, the rule's error is far below 1e-9 for these smooth densities. */
const INTERVALS = 600;
const SPAN_SDS = 12;

/**
 * P(arm i has the highest reward) under independent posteriors:
 * Pᵢ = ∫ fᵢ(x) Πⱼ≠ᵢ Fⱼ(x) dx (Thompson 1933; the quantity Thompson sampling
 * plays in proportion to). Computed by composite Simpson over each arm's own
 * mean ± 12 sd (clipped to [0, 1] for Beta), where its density lives, so
 * narrow, far-apart posteriors are integrated as finely as wide ones. The
 * shares are normalised to sum to 1. Checked against scipy's quad and Evan
 * Miller's closed form for two Beta arms.
 */
export function probabilityBest(arms: Posterior[]): number[] {
  arms.forEach(checkPosterior);
  if (arms.length === 1) return [1];
  const raw = arms.map((arm, i) => {
    const [mean, sd] = meanAndSd(arm);
    let lo = mean - SPAN_SDS * sd;
    let hi = mean + SPAN_SDS * sd;
    if (arm.kind === 'beta') [lo, hi] = [Math.max(0, lo), Math.min(1, hi)];
    const h = (hi - lo) / INTERVALS;
    let sum = 0;
    for (let k = 0; k <= INTERVALS; k++) {
      const x = lo + k * h;
      let value = pdf(arm, x);
      for (let j = 0; j < arms.length && value > 0; j++) if (j !== i) value *= cdf(arms[j]!, x);
      sum += value * (k === 0 || k === INTERVALS ? 1 : k % 2 === 1 ? 4 : 2);
    }
    return (sum * h) / 3;
  });
  const total = raw.reduce((a, b) => a + b, 0);
  return raw.map((v) => v / total);
}

/**
 * Top-two Thompson sampling (Russo 2016, "Simple Bayesian algorithms for best
 * arm identification"): the leader I is drawn with P(best); with probability β
 * it is played, otherwise the challenger J, drawn from P(best) given J ≠ I. In
 * expectation arm i gets ψᵢ = β·αᵢ + (1 − β)·αᵢ·Σⱼ≠ᵢ αⱼ/(1 − αⱼ), which sums to 1.
 * With two arms and β = ½ that is always ½ each. Plain Thompson sampling is
 * ψ = α (probability matching).
 */
export function topTwoThompsonShares(pBest: number[], beta = 0.5): number[] {
  if (!(beta > 0 && beta < 1)) throw new RangeError(`beta: ${beta} is not between 0 and 1`);
  const k = pBest.length;
  return pBest.map((a, i) => {
    let challenger = 0;
    pBest.forEach((other, j) => {
      if (j === i) return;
      // A leader that is certain leaves its challenger share to the others equally.
      challenger += other >= 1 ? 1 / (k - 1) : (other * a) / (1 - other);
    });
    return beta * a + (1 - beta) * challenger;
  });
}

/** An arm's running reward: its mean and how many rewards it has. */
export interface ArmReward {
  mean: number;
  n: number;
}

/**
 * UCB1 (Auer, Cesa-Bianchi & Fischer 2002): x̄ᵢ + c·√(ln N / nᵢ), N the
 * rewards over all arms. c = √2 is the paper's √(2 ln N / nᵢ); the seeds use
 * c = 2. An arm with no rewards has index +∞ (each arm is played once first).
 * The regret bound assumes rewards in [0, 1].
 */
export function ucbIndices(arms: ArmReward[], c: number): number[] {
  const total = arms.reduce((a, b) => a + b.n, 0);
  return arms.map((arm) => (arm.n === 0 ? Infinity : arm.mean + c * Math.sqrt(Math.log(total) / arm.n)));
}

/** All the share to the largest value (split equally on a tie). */
export function argmaxShares(values: number[]): number[] {
  const best = Math.max(...values);
  const leaders = values.filter((v) => v === best).length;
  return values.map((v) => (v === best ? 1 / leaders : 0));
}

/** ε-greedy: 1 − ε to the best mean (split on a tie), ε spread evenly over every arm. */
export function epsilonGreedyShares(means: number[], epsilon: number): number[] {
  return argmaxShares(means).map((s) => (1 - epsilon) * s + epsilon / means.length);
}

/**
 * ε after n rewards: `start` through the burn-in, then decaying as 1/n (the
 * εₙ-greedy schedule of Auer et al. 2002, εₙ ∝ 1/n) down to `floor`; the seeds
 * use 0.3 → 0.05.
 */
export function decayingEpsilon(n: number, schedule: { start: number; floor: number; burnIn: number }): number {
  const { start, floor, burnIn } = schedule;
  return Math.max(floor, start * Math.min(1, burnIn / Math.max(n, 1)));
}

/**
 * Whole-percent route weights from shares: every arm gets `floor`, and the rest
 * (100 − arms × floor) is split by the shares with the largest-remainder
 * (Hamilton) method, so the weights sum to exactly 100. Ties in the remainder
 * go to the earlier arm, so the result is deterministic.
 */
export function integerWeights(shares: number[], floor: number): number[] {
  if (!Number.isInteger(floor) || floor < 0) throw new RangeError(`floor: ${floor} is not a whole percentage >= 0`);
  if (shares.length * floor > 100)
    throw new RangeError(
      `floor: ${floor}% for each of ${shares.length} arms is ${shares.length * floor}%, more than 100%`,
    );
  const total = shares.reduce((a, b) => a + b, 0);
  if (!(total > 0)) throw new RangeError(`shares: ${JSON.stringify(shares)} do not sum to a positive number`);
  const rest = 100 - shares.length * floor;
  const exact = shares.map((s) => (s / total) * rest);
  const weights = exact.map((e) => Math.floor(e));
  let left = rest - weights.reduce((a, b) => a + b, 0);
  const order = exact.map((e, i) => [e - Math.floor(e), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of order) {
    if (left === 0) break;
    weights[i]!++;
    left--;
  }
  return weights.map((w) => w + floor);
}

/**
 * Estimated regret so far, per arm: nᵢ·(max x̄ − x̄ᵢ), the reward lost by
 * playing arm i instead of the arm that now looks best (a plug-in estimate; the
 * oracle's regret in `make sim` uses the true means).
 */
export function estimatedRegret(arms: ArmReward[]): number[] {
  const best = Math.max(...arms.map((a) => a.mean));
  return arms.map((a) => a.n * (best - a.mean));
}

/** One arm's rewards so far: a proportion (successes of trials) or a mean (its count, mean and variance). */
export type ArmEvidence =
  | { kind: 'proportion'; successes: number; trials: number }
  | { kind: 'mean'; n: number; mean: number; variance: number };

export interface BanditPolicy {
  algorithm: 'thompson' | 'top-two-thompson' | 'ucb1' | 'epsilon-greedy';
  /** Whole percent every arm keeps, however it does. */
  floor: number;
  /** Rewards over all arms before allocation adapts; until then the split is even. */
  burnIn: number;
  /** UCB1's exploration constant. */
  c: number;
  /** ε-greedy's schedule: `start` through the burn-in, decaying as 1/n to `floor`. */
  epsilon: { start: number; floor: number };
  /** Top-two Thompson's probability of playing the leader. */
  leaderShare: number;
}

export interface Allocation {
  /** Route weights, whole percent, summing to 100. */
  weights: number[];
  /** P(arm is best) under the posteriors. */
  pBest: number[];
  /** Whether the burn-in is over and the split follows the algorithm. */
  adapting: boolean;
}

function posteriorOf(arm: ArmEvidence): Posterior {
  if (arm.kind === 'proportion') return betaPosterior(arm.successes, arm.trials);
  // A mean's posterior under a flat prior, approximately Normal(x̄, s²/n); with fewer than two
  // rewards nothing is known, so a wide Normal around what there is.
  if (arm.n < 2) return { kind: 'normal', mean: arm.n === 1 ? arm.mean : 0, sd: 1e6 };
  return { kind: 'normal', mean: arm.mean, sd: Math.sqrt(Math.max(arm.variance, 1e-12) / arm.n) };
}

const rewardsOf = (arm: ArmEvidence) => (arm.kind === 'proportion' ? arm.trials : arm.n);
const meanOf = (arm: ArmEvidence) =>
  arm.kind === 'proportion' ? (arm.trials > 0 ? arm.successes / arm.trials : 0) : arm.mean;

/**
 * The next interval's route weights for a bandit: an even split through the
 * burn-in, then the algorithm's shares (Thompson: P(best); top-two Thompson;
 * UCB1: all to the highest index; ε-greedy), with every arm kept at `floor`.
 * Deterministic: the same evidence always gives the same weights.
 */
export function banditAllocation(arms: ArmEvidence[], policy: BanditPolicy): Allocation {
  const pBest = probabilityBest(arms.map(posteriorOf));
  const total = arms.reduce((sum, arm) => sum + rewardsOf(arm), 0);
  const adapting = total >= policy.burnIn;
  let shares: number[];
  if (!adapting) shares = arms.map(() => 1);
  else if (policy.algorithm === 'thompson') shares = pBest;
  else if (policy.algorithm === 'top-two-thompson') shares = topTwoThompsonShares(pBest, policy.leaderShare);
  else if (policy.algorithm === 'ucb1')
    shares = argmaxShares(
      ucbIndices(
        arms.map((arm) => ({ mean: meanOf(arm), n: rewardsOf(arm) })),
        policy.c,
      ),
    );
  else
    shares = epsilonGreedyShares(
      arms.map(meanOf),
      decayingEpsilon(total, { ...policy.epsilon, burnIn: policy.burnIn }),
    );
  return { weights: integerWeights(shares, policy.floor), pBest, adapting };
}
