// The mixture SPRT against its closed form evaluated independently in Python
// (test/stats-reference/reference.py).
import { describe, expect, test } from '@jest/globals';
import { initialMsprtState, msprt } from './msprt.js';
import { expectRelative } from './reference.test-helpers.js';

describe('msprt', () => {
  // Looks (difference, variance): (0.02, 4e-4), (0.03, 2e-4), (0.025, 1e-4), (0.026, 5e-5); tau 0.02, alpha 0.05.
  const looks = [
    { difference: 0.02, variance: 0.0004 },
    { difference: 0.03, variance: 0.0002 },
    { difference: 0.025, variance: 0.0001 },
    { difference: 0.026, variance: 0.00005 },
  ];
  const expected = [
    { lambda: 0.9079430793557844, p: 1.0, ci: [-0.05312789742727697, 0.09312789742727698] },
    { lambda: 2.5875043911838844, p: 0.38647277407806097, ci: [-0.016119660132451405, 0.0761196601324514] },
    { lambda: 5.4481769263227235, p: 0.1835476368560144, ci: [-0.005823899938890927, 0.055823899938890933] },
    { lambda: 135.6769374896438, p: 0.007370449381467871, ci: [0.004538085750567671, 0.04746191424943233] },
  ];

  test('likelihood ratios, always-valid p-values and intervals carry over look by look', () => {
    let state = initialMsprtState();
    looks.forEach((look, i) => {
      const r = msprt(state, look, 0.02);
      expectRelative(r.likelihoodRatio, expected[i]!.lambda);
      expectRelative(r.pValue, expected[i]!.p);
      expectRelative(r.ci[0], expected[i]!.ci[0]!);
      expectRelative(r.ci[1], expected[i]!.ci[1]!);
      expect(r.looks).toBe(i + 1);
      state = r;
    });
  });

  test('the p-value never rises and the interval never widens, even when the evidence weakens', () => {
    const strong = msprt(initialMsprtState(), { difference: 0.05, variance: 0.0001 }, 0.02);
    const weaker = msprt(strong, { difference: 0.0, variance: 0.00009 }, 0.02);
    expect(weaker.pValue).toBe(strong.pValue);
    expect(weaker.ci[0]).toBeGreaterThanOrEqual(strong.ci[0]);
    expect(weaker.ci[1]).toBeLessThanOrEqual(strong.ci[1]);
  });

  test('a look without information leaves the state alone; tau must be positive', () => {
    const state = initialMsprtState();
    expect(msprt(state, { difference: 0, variance: 0 }, 0.02)).toMatchObject({ looks: 0, pValue: 1 });
    expect(() => msprt(state, { difference: 0, variance: 1 }, 0)).toThrow('tau: 0 is not a positive mixing scale');
  });
});
