// The bandit simulation: three model versions with known accuracies, labelled
// predictions arriving every interval, and the route's weights recomputed once
// per interval by banditAllocation, as the controller would. Regret is counted
// against an oracle that always serves the best version, and compared with an
// even split held for the whole horizon.
import { seededRandom } from '../../../shared/random.js';
import { banditAllocation, type BanditPolicy } from '../stats/bandit.js';
import { median } from './simulate.js';

/** The versions' true accuracies: v2 is the best, by 4 points over the runner-up. */
export const BANDIT_ARMS: readonly number[] = [0.55, 0.61, 0.57];
export const BANDIT_INTERVAL_MS = 30_000;
/** The horizon regret is counted over. */
export const BANDIT_HORIZON_MS = 60 * 60_000;

/** The stop rule: one arm's P(best) at or above `pBest` for `sustainedMs`, then it takes all traffic. */
export const BANDIT_STOP = { pBest: 0.95, sustainedMs: 5 * 60_000 };

export const BANDIT_POLICIES: Record<string, BanditPolicy> = {
  thompson: policy('thompson'),
  'top-two-thompson': policy('top-two-thompson'),
  'ucb1-c2': policy('ucb1'),
  'epsilon-greedy': policy('epsilon-greedy'),
};

function policy(algorithm: BanditPolicy['algorithm']): BanditPolicy {
  return {
    algorithm,
    floor: 1,
    burnIn: 100 * BANDIT_ARMS.length,
    c: 2,
    epsilon: { start: 0.3, floor: 0.05 },
    leaderShare: 0.5,
  };
}

export interface BanditRun {
  /** Correct answers lost against always serving the best arm, over the horizon. */
  regret: number;
  /** The same for an even split over the horizon. */
  uniformRegret: number;
  /** When the best arm first held at least half the traffic (minutes), if it did. */
  minutesToMajority?: number;
  /** When the stop rule chose an arm (minutes), and which. */
  stoppedMinutes?: number;
  chosen?: number;
}

/** One bandit run at `rate` labelled predictions per second. Seeded: the same seed gives the same run. */
export function runBandit(bandit: BanditPolicy, seed: number, rate: number): BanditRun {
  const random = seededRandom(seed);
  const k = BANDIT_ARMS.length;
  const best = Math.max(...BANDIT_ARMS);
  const bestArm = BANDIT_ARMS.indexOf(best);
  const successes = new Array<number>(k).fill(0);
  const trials = new Array<number>(k).fill(0);
  const perInterval = rate * (BANDIT_INTERVAL_MS / 1000);
  const intervals = BANDIT_HORIZON_MS / BANDIT_INTERVAL_MS;
  let regret = 0;
  let leaderSince: { arm: number; interval: number } | undefined;
  const run: BanditRun = { regret: 0, uniformRegret: 0 };
  for (let t = 0; t < intervals; t++) {
    let weights: number[];
    if (run.chosen !== undefined) weights = BANDIT_ARMS.map((_, i) => (i === run.chosen ? 100 : 0));
    else {
      const allocation = banditAllocation(
        successes.map((s, i) => ({ kind: 'proportion' as const, successes: s, trials: trials[i]! })),
        bandit,
      );
      weights = allocation.weights;
      const leader = allocation.pBest.indexOf(Math.max(...allocation.pBest));
      if (allocation.adapting && allocation.pBest[leader]! >= BANDIT_STOP.pBest) {
        if (leaderSince?.arm !== leader) leaderSince = { arm: leader, interval: t };
        if ((t - leaderSince.interval) * BANDIT_INTERVAL_MS >= BANDIT_STOP.sustainedMs) {
          run.chosen = leader;
          run.stoppedMinutes = (t * BANDIT_INTERVAL_MS) / 60_000;
          weights = BANDIT_ARMS.map((_, i) => (i === leader ? 100 : 0));
        }
      } else leaderSince = undefined;
    }
    if (run.minutesToMajority === undefined && weights[bestArm]! >= 50)
      run.minutesToMajority = (t * BANDIT_INTERVAL_MS) / 60_000;
    // Each request picks a version by the weights, as the route does; its label is right with the version's accuracy.
    for (let r = 0; r < perInterval; r++) {
      let point = random() * 100;
      let arm = 0;
      while (arm < k - 1 && point >= weights[arm]!) point -= weights[arm++]!;
      trials[arm]!++;
      if (random() < BANDIT_ARMS[arm]!) successes[arm]!++;
      regret += best - BANDIT_ARMS[arm]!;
    }
  }
  run.regret = regret;
  const mean = BANDIT_ARMS.reduce((a, b) => a + b, 0) / k;
  run.uniformRegret = (best - mean) * perInterval * intervals;
  return run;
}

export interface BanditReport {
  policy: string;
  rate: number;
  runs: number;
  /** Mean regret (correct answers lost against the oracle) over the horizon, with its Monte-Carlo s.e. */
  regret: { mean: number; monteCarloSe: number };
  /** The even split's regret over the same horizon (it has no randomness in expectation). */
  uniformRegret: number;
  /** Regret as a share of the even split's. */
  regretVsUniform: number;
  medianMinutesToMajority: number | null;
  /** Runs where the stop rule chose the best arm, and any arm, with their s.e. */
  choseBestRate: { value: number; monteCarloSe: number };
  stoppedRate: number;
  medianMinutesToStop: number | null;
}

/** `runs` seeded runs of one bandit policy at `rate`, summarised. */
export function simulateBandit(name: string, runs: number, seed: number, rate: number): BanditReport {
  const results = Array.from({ length: runs }, (_, i) => runBandit(BANDIT_POLICIES[name]!, seed * 1_000_003 + i, rate));
  const regrets = results.map((r) => r.regret);
  const mean = regrets.reduce((a, b) => a + b, 0) / runs;
  const variance = regrets.reduce((sum, r) => sum + (r - mean) ** 2, 0) / Math.max(1, runs - 1);
  const bestArm = BANDIT_ARMS.indexOf(Math.max(...BANDIT_ARMS));
  const choseBest = results.filter((r) => r.chosen === bestArm).length / runs;
  const uniformRegret = results[0]!.uniformRegret;
  const round = (x: number, digits = 4) => Math.round(x * 10 ** digits) / 10 ** digits;
  return {
    policy: name,
    rate,
    runs,
    regret: { mean: round(mean, 1), monteCarloSe: round(Math.sqrt(variance / runs), 1) },
    uniformRegret: round(uniformRegret, 1),
    regretVsUniform: round(mean / uniformRegret),
    medianMinutesToMajority: median(results.flatMap((r) => r.minutesToMajority ?? [])) ?? null,
    choseBestRate: { value: round(choseBest), monteCarloSe: round(Math.sqrt((choseBest * (1 - choseBest)) / runs)) },
    stoppedRate: round(results.filter((r) => r.chosen !== undefined).length / runs),
    medianMinutesToStop: median(results.flatMap((r) => r.stoppedMinutes ?? [])) ?? null,
  };
}
