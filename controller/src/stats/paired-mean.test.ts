// The paired t-test from sums of differences against scipy 1.17.1's
// ttest_rel(canary, stable) and its confidence_interval(1 − alpha). Every expected
// value comes from test/stats-reference/reference.py, with the same data as written here.
import { describe, expect, test } from '@jest/globals';
import { pairedMeanTest } from './paired-mean.js';
import { expectRelative } from './reference.test-helpers.js';

/** The sufficient statistics of d = canary − stable, as a Prometheus counter triple would export them. */
function sums(canary: number[], stable: number[]) {
  const d = canary.map((c, i) => c - stable[i]!);
  return { n: d.length, sum: d.reduce((a, x) => a + x, 0), sumOfSquares: d.reduce((a, x) => a + x * x, 0) };
}

describe('pairedMeanTest', () => {
  test("Student's sleep data (R datasets::sleep): drug 2 as canary, drug 1 as stable, same 10 patients", () => {
    const canary = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4];
    const stable = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0];
    const r = pairedMeanTest(sums(canary, stable));
    expectRelative(r.difference, 1.58);
    expectRelative(r.sd, 1.2299954832798732);
    expectRelative(r.variance, 1.2299954832798732 ** 2 / 10);
    expectRelative(r.t, 4.062127683382037);
    expect(r.degreesOfFreedom).toBe(9);
    expectRelative(r.pValue, 0.002832890197384273);
    expectRelative(r.ci[0], 0.7001142367230175);
    expectRelative(r.ci[1], 2.459885763276983);
    // R's t.test(paired = TRUE) prints t = 4.0621, p-value = 0.002833, CI 0.7001142 2.4598858.
    expect(r.t).toBeCloseTo(4.0621, 4);
  });

  test('latency in ms on 12 shared requests, alpha 0.1 (scipy ttest_rel)', () => {
    const canary = [41.2, 38.9, 52.3, 47.0, 39.8, 44.1, 60.5, 35.7, 42.8, 49.9, 37.4, 45.6];
    const stable = [40.1, 39.5, 50.2, 45.8, 40.3, 42.0, 58.9, 35.9, 41.1, 48.2, 36.8, 44.0];
    const r = pairedMeanTest(sums(canary, stable), 0.1);
    expectRelative(r.difference, 1.0333333333333332);
    expectRelative(r.sd, 0.9801051273236248);
    expectRelative(r.variance, 0.9801051273236248 ** 2 / 12);
    expectRelative(r.t, 3.652232366899685);
    expect(r.degreesOfFreedom).toBe(11);
    expectRelative(r.pValue, 0.0038058645109277055);
    expectRelative(r.ci[0], 0.5252200865386092);
    expectRelative(r.ci[1], 1.541446580128057);
  });

  test('the smallest sample, two pairs: canary 0.91, 0.87 vs stable 0.88, 0.86 (scipy ttest_rel)', () => {
    const r = pairedMeanTest(sums([0.91, 0.87], [0.88, 0.86]));
    expectRelative(r.difference, 0.020000000000000018);
    expectRelative(r.sd, 0.014142135623730963);
    expectRelative(r.t, 2);
    expect(r.degreesOfFreedom).toBe(1);
    expectRelative(r.pValue, 0.2951672353008665);
    expectRelative(r.ci[0], -0.10706204736174704);
    expectRelative(r.ci[1], 0.14706204736174708);
  });

  test('identical differences: sd 0, so t is 0 or ±∞', () => {
    expect(pairedMeanTest(sums([1, 2, 3], [1, 2, 3]))).toMatchObject({ t: 0, pValue: 1, variance: 0, ci: [0, 0] });
    expect(pairedMeanTest(sums([1, 2, 3], [2, 3, 4]))).toMatchObject({ difference: -1, t: -Infinity, pValue: 0 });
  });

  test('bad input names the field', () => {
    expect(() => pairedMeanTest({ n: 1, sum: 0.5, sumOfSquares: 0.25 })).toThrow(
      'differences.n: 1 is not a whole number >= 2',
    );
    expect(() => pairedMeanTest({ n: 2.5, sum: 1, sumOfSquares: 1 })).toThrow(
      'differences.n: 2.5 is not a whole number >= 2',
    );
    expect(() => pairedMeanTest({ n: 3, sum: NaN, sumOfSquares: 1 })).toThrow(
      'differences: sum NaN and sum of squares 1 must be finite, with sum of squares >= 0',
    );
    expect(() => pairedMeanTest({ n: 3, sum: 1, sumOfSquares: 1 }, 2)).toThrow(RangeError);
  });
});
