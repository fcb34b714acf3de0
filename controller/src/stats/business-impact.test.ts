// The business impact of a canary: value, interval and recommendation. Expected
// values come from test/stats-reference/reference.py (scipy 1.17.1) unless noted.
import { describe, expect, test } from '@jest/globals';
import { businessImpact } from './business-impact.js';
import { expectRelative } from './reference.test-helpers.js';

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
