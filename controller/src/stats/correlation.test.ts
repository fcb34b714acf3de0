// Correlation across analysis windows against scipy 1.17.1 (stats.pearsonr with
// confidence_interval, stats.spearmanr); inputs as in test/stats-reference/reference.py.
import { describe, expect, test } from '@jest/globals';
import { correlation } from './correlation.js';
import { expectRelative } from './reference.test-helpers.js';

describe('correlation', () => {
  test('12 windows of accuracy vs value per prediction, strongly linked (scipy pearsonr, spearmanr)', () => {
    const accuracy = [0.52, 0.55, 0.49, 0.58, 0.61, 0.5, 0.47, 0.56, 0.6, 0.53, 0.57, 0.51];
    const value = [0.01, 0.018, -0.004, 0.022, 0.031, 0.002, -0.009, 0.015, 0.027, 0.008, 0.02, 0.001];
    const c = correlation(accuracy, value)!;
    expect(c.n).toBe(12);
    expectRelative(c.r, 0.9861042375999273);
    expectRelative(c.pValue, 3.986370576957242e-9, 1e-6);
    expectRelative(c.ci[0], 0.9496154940170526);
    expectRelative(c.ci[1], 0.9962188770083781);
    expectRelative(c.rho, 0.9790209790209792);
    expectRelative(c.rhoPValue, 3.089801398548709e-8, 1e-6);
  });

  test('8 pairs with ties in x, weak link, 90% interval (scipy)', () => {
    const c = correlation([1, 2, 2, 3, 4, 5, 5, 6], [3.1, 2.0, 4.4, 3.3, 2.9, 4.0, 3.6, 3.8], 0.1)!;
    expectRelative(c.r, 0.3631182974310318);
    expectRelative(c.pValue, 0.37663444828187803, 1e-7);
    expectRelative(c.ci[0], -0.3409152346887271);
    expectRelative(c.ci[1], 0.8061990077366336);
    expectRelative(c.rho, 0.37352108685170693);
    expectRelative(c.rhoPValue, 0.36206259826316517, 1e-7);
  });

  test('too few pairs or a constant metric give no answer; bad input names the problem', () => {
    expect(correlation([1, 2, 3], [1, 2, 3])).toBeUndefined();
    expect(correlation([1, 1, 1, 1], [1, 2, 3, 4])).toBeUndefined();
    expect(() => correlation([1, 2], [1])).toThrow('x and y: 2 and 1 values; expected pairs');
    expect(() => correlation([1, 2, NaN, 4], [1, 2, 3, 4])).toThrow('every value must be a finite number');
  });
});
