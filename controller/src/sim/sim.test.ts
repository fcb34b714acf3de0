// A short simulation: weir's false-promotion rate under peeking stays within
// alpha plus Monte-Carlo error, while the naive repeated test inflates it.
import { describe, expect, test } from '@jest/globals';
import { ABN_SCENARIOS, runAbn, simulateAbn } from './abn-sim.js';
import { BANDIT_POLICIES, runBandit, simulateBandit } from './bandit-sim.js';
import { simulateScenario } from './simulate.js';
import { SCENARIOS } from './streams.js';

const scenario = (name: string) => SCENARIOS.find((s) => s.name === name)!;
const RUNS = 300;
const BOUND = 0.05 + 2 * Math.sqrt((0.05 * 0.95) / RUNS);

describe('simulation', () => {
  test(`an equal canary is promoted at most alpha + MC error (${BOUND.toFixed(3)}) of the time by weir, and the naive policy inflates it`, () => {
    const weir = simulateScenario('weir', scenario('equal'), RUNS, 7);
    const naive = simulateScenario('naive', scenario('equal'), RUNS, 7);
    expect(weir.falsePromotionRate!).toBeLessThanOrEqual(BOUND);
    expect(naive.falsePromotionRate!).toBeGreaterThan(BOUND);
  });

  test('a canary 6 accuracy points worse is never promoted, and is rolled back at the first stage on accuracy', () => {
    const worse = simulateScenario('weir', scenario('worse-accuracy'), 100, 11);
    expect(worse.promotedRate).toBe(0);
    expect(worse.caughtAtFirstStageRate).toBeGreaterThan(0.95);
    expect(worse.rollbackCauses!.accuracy).toBeGreaterThan(95);
    // It answered about its 10% share, no more, before it was caught.
    expect(worse.meanExposure).toBeLessThan(0.11);
  });

  test('a better canary is promoted almost always', () => {
    expect(simulateScenario('weir', scenario('better'), 100, 13).promotedRate).toBeGreaterThan(0.9);
  });
});

describe('bandit simulation', () => {
  test('Thompson sampling on 55/61/57% accuracies at 20 req/s loses less than an even split, and its stop rule picks v2', () => {
    const report = simulateBandit('thompson', 10, 3, 20);
    expect(report.regretVsUniform).toBeLessThan(0.5);
    expect(report.choseBestRate.value).toBeGreaterThanOrEqual(0.9);
    expect(report.medianMinutesToMajority).not.toBeNull();
  });

  test('a run is reproducible from its seed', () => {
    expect(runBandit(BANDIT_POLICIES['ucb1-c2']!, 5, 20)).toEqual(runBandit(BANDIT_POLICIES['ucb1-c2']!, 5, 20));
  });
});

describe('A/B/n simulation', () => {
  test('three equal versions declare no winner in 20 runs at 200 req/s; v2 six points better wins each of 20', () => {
    const equal = simulateAbn(ABN_SCENARIOS[0], 20, 5, 200);
    expect(equal.winnerRate.value).toBe(0);
    const better = simulateAbn(ABN_SCENARIOS[1], 20, 5, 200);
    expect(better.v2WinnerRate.value).toBe(1);
    expect(better.medianMinutesToWinner).toBeGreaterThanOrEqual(5); // never before minStageDuration
  });

  test('a run is reproducible from its seed, and ends rolled back at maxDuration without a winner', () => {
    const run = runAbn(ABN_SCENARIOS[0].accuracy, 9, 20);
    expect(run).toEqual(runAbn(ABN_SCENARIOS[0].accuracy, 9, 20));
    expect(run).toEqual({ outcome: 'rolled-back', minutes: 120 });
  });
});
