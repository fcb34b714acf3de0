// Sample size, Holm, business impact and probability to beat. Expected values
// come from test/stats-reference/reference.py (scipy 1.17.1) unless noted.
import { describe, expect, test } from '@jest/globals';
import { businessImpact } from './business-impact.js';
import { holm } from './holm.js';
import { probabilityToBeat } from './probability-to-beat.js';
import { expectRelative } from './reference.test-helpers.js';
import { sampleSizeMean, sampleSizeProportion, samplesEta } from './sample-size.js';

describe('sample size', () => {
  test('proportions, Fleiss eq. 3.14 (= R power.prop.test) with scipy norm.ppf', () => {
    // baseline 0.55, mde 0.05, alpha 0.05, power 0.8: n = 1533.2765 → 1534
    expect(sampleSizeProportion(0.55, 0.05).perArm).toBe(1534);
    // baseline 0.50, mde 0.25, power 0.9: n = 76.707 → 77
    expect(sampleSizeProportion(0.5, 0.25, 0.05, 0.9).perArm).toBe(77);
    // a drop: baseline 0.02, mde -0.005, alpha 0.01, power 0.95: n = 24499.91 → 24500
    expect(sampleSizeProportion(0.02, -0.005, 0.01, 0.95).perArm).toBe(24500);
  });

  test('means: 2σ²(z₀.₉₇₅ + z₀.₈)²/Δ² with σ 10, Δ 5 is 62.79 → 63; σ 0.04, Δ 0.01, α 0.01, power 0.9 is 476.14 → 477', () => {
    expect(sampleSizeMean(10, 5).perArm).toBe(63);
    expect(sampleSizeMean(0.04, 0.01, 0.01, 0.9).perArm).toBe(477);
  });

  test('ETA: the slower arm decides; an arm without traffic never arrives', () => {
    // 1534 per arm, have 400 stable / 100 canary, 20 req/s at 10% canary:
    // canary needs 1434 / 2 per s = 717 s; stable 1134 / 18 = 63 s.
    expectRelative(samplesEta(1534, { stable: 400, canary: 100 }, 20, 10), 717);
    expect(samplesEta(1534, { stable: 0, canary: 0 }, 20, 0)).toBe(Infinity);
    expect(samplesEta(10, { stable: 10, canary: 12 }, 0, 50)).toBe(0);
  });

  test('errors name the argument', () => {
    expect(() => sampleSizeProportion(1.2, 0.05)).toThrow('baseline: 1.2 is not a proportion');
    expect(() => sampleSizeProportion(0.98, 0.05)).toThrow('mde: 0.05 must be non-zero and keep baseline + mde (1.03)');
    expect(() => sampleSizeMean(-1, 1)).toThrow('sd: -1 is not a positive standard deviation');
    expect(() => sampleSizeMean(1, 1, 0.05, 2)).toThrow('power: 2 is not a probability');
  });
});

describe('holm', () => {
  test('p = (0.01, 0.04, 0.03, 0.005): adjusted (0.03, 0.06, 0.06, 0.02), by the definition in Holm (1979) (R p.adjust "holm")', () => {
    const r = holm([0.01, 0.04, 0.03, 0.005]);
    r.adjusted.forEach((p, i) => expectRelative(p, [0.03, 0.06, 0.06, 0.02][i]!, 1e-12));
    expect(r.rejected).toEqual([true, false, false, true]);
  });

  test('caps at 1 and handles empty input', () => {
    expect(holm([0.5, 0.9]).adjusted).toEqual([1, 1]);
    expect(holm([])).toEqual({ adjusted: [], rejected: [] });
  });
});

describe('businessImpact', () => {
  const coefficients = { revenuePerAccuracyPoint: 1000, costPerMs: 20, riskPerErrorPoint: -500 };

  test('value and delta-method CI (by hand with scipy norm.ppf(0.975) = 1.959963984540054)', () => {
    // Δacc +2 pts (se 0.8), Δlat +3 ms (se 1), Δerr +0.1 pts (se 0.05):
    // value = 1000·2 − 20·3 − 500·0.1 = 1890; se = √(800² + 20² + 25²) ≈ 800.64
    const r = businessImpact(coefficients, {
      accuracyPoints: { estimate: 2, se: 0.8 },
      latencyMs: { estimate: 3, se: 1 },
      errorRatePoints: { estimate: 0.1, se: 0.05 },
    });
    const se = Math.sqrt(800 ** 2 + 20 ** 2 + 25 ** 2);
    expectRelative(r.value, 1890);
    expectRelative(r.se, se);
    expectRelative(r.ci[0], 1890 - 1.959963984540054 * se);
    expectRelative(r.ci[1], 1890 + 1.959963984540054 * se);
    expect(r.contributions).toEqual({ accuracy: 2000, latency: -60, errorRate: -50 });
    expect(r.recommendation).toBe('RECOMMEND');
  });

  test('the recommendation follows the interval', () => {
    const at = (accuracy: number, se: number) =>
      businessImpact(coefficients, {
        accuracyPoints: { estimate: accuracy, se },
        latencyMs: { estimate: 0, se: 0 },
        errorRatePoints: { estimate: 0, se: 0 },
      }).recommendation;
    expect(at(5, 0.5)).toBe('STRONG_RECOMMEND');
    expect(at(1, 0.45)).toBe('RECOMMEND');
    expect(at(0.5, 1)).toBe('CONTINUE_TESTING');
    expect(at(-3, 1)).toBe('REJECT');
  });
});

describe('probabilityToBeat', () => {
  test('Beta–Binomial with uniform priors (scipy quad of beta.pdf · beta.cdf)', () => {
    expectRelative(
      probabilityToBeat({ successes: 48, trials: 100 }, { successes: 56, trials: 100 }),
      0.8700757653144738,
      1e-8,
    );
    expectRelative(
      probabilityToBeat({ successes: 1080, trials: 2000 }, { successes: 1240, trials: 2000 }),
      0.9999998530485079,
      1e-8,
    );
    expectRelative(
      probabilityToBeat({ successes: 10, trials: 20 }, { successes: 9, trials: 20 }),
      0.378930898384328,
      1e-8,
    );
  });

  test('empty arms give the prior answer, 0.5', () => {
    expectRelative(probabilityToBeat({ successes: 0, trials: 0 }, { successes: 0, trials: 0 }), 0.5, 1e-12);
  });
});
