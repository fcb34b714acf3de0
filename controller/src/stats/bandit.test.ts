// Bandit allocation against reference values: P(best) against scipy 1.17.1's
// quad and Evan Miller's closed form (test/stats-reference/reference.py,
// "bandit", same inputs as here); UCB1's index and top-two Thompson's shares
// against their textbook definitions, computed by hand in the test.
import { describe, expect, test } from '@jest/globals';
import {
  argmaxShares,
  banditAllocation,
  betaPosterior,
  decayingEpsilon,
  epsilonGreedyShares,
  estimatedRegret,
  integerWeights,
  probabilityBest,
  topTwoThompsonShares,
  ucbIndices,
} from './bandit.js';
import { expectRelative } from './reference.test-helpers.js';

const beta = (alpha: number, b: number) => ({ kind: 'beta' as const, alpha, beta: b });
const normal = (mean: number, sd: number) => ({ kind: 'normal' as const, mean, sd });

describe('probabilityBest', () => {
  test('two Beta arms: 100/1000 against 120/1000 (uniform prior) equals the closed form and scipy', () => {
    const p = probabilityBest([betaPosterior(100, 1000), betaPosterior(120, 1000)]);
    expectRelative(p[1]!, 0.9231834389724246, 1e-9); // Evan Miller's closed form
    expectRelative(p[1]!, 0.9231834389735594, 1e-9); // scipy quad
    expectRelative(p[0]!, 0.07681656102644029, 1e-8);
  });

  test.each([
    [
      'three wide Beta arms',
      [beta(41, 61), beta(51, 51), beta(46, 56)],
      [0.04715682758605083, 0.7278672411007832, 0.2249759313131665],
    ],
    [
      'three narrow Beta arms near 0.9',
      [beta(9001, 1001), beta(9051, 951), beta(8990, 1012)],
      [0.10396796590711725, 0.8387631870095492, 0.05726884708333365],
    ],
    [
      'three Normal arms (a mean reward)',
      [normal(1.0, 0.1), normal(1.1, 0.05), normal(0.95, 0.2)],
      [0.14916249467290293, 0.6335349549077864, 0.2173025504193107],
    ],
  ])('%s (scipy quad)', (_what, arms, expected) => {
    probabilityBest(arms).forEach((p, i) => expectRelative(p, expected[i]!, 1e-8));
  });

  test('two Normal arms equal the closed form Φ((μ₂ − μ₁)/√(σ₁² + σ₂²))', () => {
    expectRelative(probabilityBest([normal(1.0, 0.1), normal(1.1, 0.05)])[1]!, 0.8144533152386515, 1e-9);
  });

  test('symmetry: identical arms share P(best) equally; one arm is best for sure', () => {
    probabilityBest([beta(30, 70), beta(30, 70), beta(30, 70)]).forEach((p) => expectRelative(p, 1 / 3, 1e-9));
    expect(probabilityBest([beta(3, 4)])).toEqual([1]);
  });

  test('errors name the arm', () => {
    expect(() => probabilityBest([beta(0.5, 2), beta(2, 2)])).toThrow('arms[0]');
    expect(() => probabilityBest([normal(1, 0.1), normal(1, 0)])).toThrow('arms[1]');
  });
});

describe('topTwoThompsonShares (Russo 2016)', () => {
  test('ψᵢ = β·αᵢ + (1 − β)·αᵢ·Σⱼ≠ᵢ αⱼ/(1 − αⱼ), computed by hand for α = (0.6, 0.3, 0.1), β = ½', () => {
    const shares = topTwoThompsonShares([0.6, 0.3, 0.1], 0.5);
    const byHand = [
      0.5 * 0.6 + 0.5 * 0.6 * (0.3 / 0.7 + 0.1 / 0.9),
      0.5 * 0.3 + 0.5 * 0.3 * (0.6 / 0.4 + 0.1 / 0.9),
      0.5 * 0.1 + 0.5 * 0.1 * (0.6 / 0.4 + 0.3 / 0.7),
    ];
    shares.forEach((s, i) => expectRelative(s, byHand[i]!, 1e-12));
    expectRelative(
      shares.reduce((a, b) => a + b, 0),
      1,
      1e-12,
    );
  });

  test('two arms with β = ½ always split evenly, however sure the posterior is', () => {
    for (const a of [0.5, 0.9, 0.999]) topTwoThompsonShares([a, 1 - a]).forEach((s) => expectRelative(s, 0.5, 1e-12));
  });

  test('a certain leader leaves its challenger share to the others equally', () => {
    expect(topTwoThompsonShares([1, 0, 0], 0.5)).toEqual([0.5, 0.25, 0.25]);
    expect(() => topTwoThompsonShares([0.5, 0.5], 1)).toThrow('beta: 1');
  });
});

describe('UCB1 and ε-greedy', () => {
  test('UCB1 index x̄ + c·√(ln N / n) (Auer et al. 2002); c = √2 is the paper’s √(2 ln N / n)', () => {
    const arms = [
      { mean: 0.5, n: 100 },
      { mean: 0.6, n: 20 },
      { mean: 0.4, n: 0 },
    ];
    const [a, b, c] = ucbIndices(arms, Math.SQRT2);
    expectRelative(a!, 0.5 + Math.sqrt((2 * Math.log(120)) / 100), 1e-14);
    expectRelative(b!, 0.6 + Math.sqrt((2 * Math.log(120)) / 20), 1e-14);
    expect(c).toBe(Infinity);
    expectRelative(ucbIndices(arms, 2)[0]!, 0.5 + 2 * Math.sqrt(Math.log(120) / 100), 1e-14);
  });

  test('the largest index takes the share; a tie splits it', () => {
    expect(argmaxShares([1, 3, 2])).toEqual([0, 1, 0]);
    expect(argmaxShares([3, 3, 2])).toEqual([0.5, 0.5, 0]);
  });

  test('ε-greedy: 1 − ε to the best mean and ε spread over every arm; ε decays 0.3 → 0.05 as 1/n after the burn-in', () => {
    const shares = epsilonGreedyShares([0.5, 0.7, 0.6], 0.3);
    shares.forEach((s, i) => expectRelative(s, i === 1 ? 0.7 + 0.1 : 0.1, 1e-12));
    const schedule = { start: 0.3, floor: 0.05, burnIn: 300 };
    expect(decayingEpsilon(0, schedule)).toBe(0.3);
    expect(decayingEpsilon(300, schedule)).toBe(0.3);
    expectRelative(decayingEpsilon(600, schedule), 0.15, 1e-12);
    expect(decayingEpsilon(1_000_000, schedule)).toBe(0.05);
  });
});

describe('integerWeights', () => {
  test('floors first, then the rest by largest remainder; the weights sum to 100', () => {
    // rest 97: exact 0.05·97 = 4.85, 0.7·97 = 67.9, 0.25·97 = 24.25 → floors 4, 67, 24 (95); two more go to .9 and .85.
    expect(integerWeights([0.05, 0.7, 0.25], 1)).toEqual([6, 69, 25]);
    expect(integerWeights([1, 0, 0], 1)).toEqual([98, 1, 1]);
    expect(integerWeights([1, 1, 1], 0)).toEqual([34, 33, 33]);
    for (const shares of [
      [0.2, 0.2, 0.2, 0.2, 0.2],
      [0.999, 0.0005, 0.0005],
      [1 / 3, 1 / 3, 1 / 3],
    ])
      expect(integerWeights(shares, 1).reduce((a, b) => a + b, 0)).toBe(100);
  });

  test('errors name the field', () => {
    expect(() => integerWeights([0.5, 0.5], 51)).toThrow('floor: 51% for each of 2 arms is 102%, more than 100%');
    expect(() => integerWeights([0.5, 0.5], 1.5)).toThrow('floor: 1.5 is not a whole percentage');
    expect(() => integerWeights([0, 0], 1)).toThrow('shares: [0,0] do not sum to a positive number');
  });
});

test('estimated regret: each arm’s plays times its gap to the best mean', () => {
  expect(
    estimatedRegret([
      { mean: 0.5, n: 100 },
      { mean: 0.6, n: 20 },
    ]).map((r) => Number(r.toFixed(12))),
  ).toEqual([10, 0]);
});

describe('banditAllocation', () => {
  const policy = {
    algorithm: 'thompson' as const,
    floor: 1,
    burnIn: 300,
    c: 2,
    epsilon: { start: 0.3, floor: 0.05 },
    leaderShare: 0.5,
  };
  const arms = (counts: [number, number][]) =>
    counts.map(([successes, trials]) => ({ kind: 'proportion' as const, successes, trials }));

  test('an even split through the burn-in (100 × arms rewards), P(best) still reported', () => {
    const a = banditAllocation(
      arms([
        [50, 99],
        [60, 100],
        [55, 100],
      ]),
      policy,
    );
    expect(a).toMatchObject({ weights: [34, 33, 33], adapting: false });
    expect(a.pBest.reduce((x, y) => x + y, 0)).toBeCloseTo(1, 12);
  });

  test('after it, Thompson weights follow P(best) (the two-arm closed form), each arm kept at its floor', () => {
    const a = banditAllocation(
      arms([
        [100, 1000],
        [120, 1000],
      ]),
      { ...policy, burnIn: 200 },
    );
    // P(best) = 0.0768 / 0.9232 (Evan Miller's closed form): 1 + 98 × share, by largest remainder.
    expect(a.adapting).toBe(true);
    expect(a.weights).toEqual([9, 91]);
  });

  test('UCB1 gives everything but the floors to the highest index; ε-greedy spreads ε', () => {
    const evidence = arms([
      [500, 1000],
      [600, 1000],
      [550, 1000],
    ]);
    expect(banditAllocation(evidence, { ...policy, algorithm: 'ucb1' }).weights).toEqual([1, 98, 1]);
    // n = 3000 against a burn-in of 300: ε = max(0.05, 0.3 × 300/3000) = 0.05. The 97 above the floors split
    // 97 × [0.0167, 0.9667, 0.0167] = [1.62, 93.77, 1.62] → [1, 93, 1] and the 2 left by largest remainder
    // (93.77, then the earlier 1.62) → [2, 94, 1]; plus the floors → [3, 95, 2].
    expect(banditAllocation(evidence, { ...policy, algorithm: 'epsilon-greedy' }).weights).toEqual([3, 95, 2]);
  });

  test('a mean reward uses a Normal posterior on x̄ with s²/n', () => {
    const a = banditAllocation(
      [
        { kind: 'mean', n: 400, mean: 1.0, variance: 4 },
        { kind: 'mean', n: 400, mean: 1.1, variance: 1 },
      ],
      { ...policy, burnIn: 0 },
    );
    // Normal(1.0, 0.1) against Normal(1.1, 0.05): P(second best) = 0.8145 (closed form, as above).
    expectRelative(a.pBest[1]!, 0.8144533152386515, 1e-9);
  });
});
