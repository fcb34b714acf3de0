// The sample-ratio checks against reference values, with the same inputs as
// written here: the chi-squared ones from scipy 1.17.1's chisquare
// (test/stats-reference/reference.py, "srm"); the sequential ones from
// Optimizely's ssrm, the authors' implementation (ssrm_reference.py).
import { describe, expect, test } from '@jest/globals';
import { expectRelative } from './reference.test-helpers.js';
import {
  chiSquaredGoodnessOfFit,
  sampleRatioMismatch,
  sequentialSampleRatio,
  SRM_MIN_EXPECTED,
} from './sample-ratio.js';

describe('chiSquaredGoodnessOfFit', () => {
  test.each([
    ['an even split, [480, 520] against 500 each', [480, 520], [500, 500], 1.6, 0.20590321073206466],
    ['a 10% canary, [9100, 880] of 9980', [9100, 880], [8982, 998], 15.5021153417947, 8.241297591496265e-5],
    [
      'three equal arms, [3300, 3300, 3600]',
      [3300, 3300, 3600],
      [3400, 3400, 3400],
      17.647058823529413,
      0.00014722781458154492,
    ],
    [
      'a tiny p keeps its precision, [820, 180] against [900, 100]',
      [820, 180],
      [900, 100],
      71.11111111111111,
      3.3766311878873994e-17,
    ],
  ])('%s', (_what, observed, expected, chi2, p) => {
    const r = chiSquaredGoodnessOfFit(observed, expected);
    expectRelative(r.chiSquared, chi2, 1e-12);
    expect(r.df).toBe(observed.length - 1);
    expectRelative(r.pValue, p, 1e-9);
  });

  test('errors name the field', () => {
    expect(() => chiSquaredGoodnessOfFit([1, 2], [3])).toThrow('expected: 1 counts, but observed has 2');
    expect(() => chiSquaredGoodnessOfFit([5], [5])).toThrow('observed: 1 categories');
    expect(() => chiSquaredGoodnessOfFit([5, 5], [0, 10])).toThrow('expected[0]: 0 is not a count above 0');
    expect(() => chiSquaredGoodnessOfFit([-1, 5], [2, 2])).toThrow('observed[0]: -1');
  });
});

describe('sampleRatioMismatch', () => {
  test('one period equals the goodness of fit on its weights (90/10, scipy)', () => {
    const r = sampleRatioMismatch([{ counts: [9100, 880], weights: [90, 10] }])!;
    expectRelative(r.pValue, 8.241297591496265e-5, 1e-9);
    expect(r.observed).toEqual([9100, 880]);
    expectRelative(r.expected[1]!, 998, 1e-12);
  });

  test('periods with different weights: each split by its own weights, then summed (scipy: p = 0.8195)', () => {
    // 1000 requests at 90/10 (905, 95), then 2000 at 75/25 (1490, 510).
    const r = sampleRatioMismatch([
      { counts: [905, 95], weights: [90, 10] },
      { counts: [1490, 510], weights: [75, 25] },
    ])!;
    expect(r.expected).toEqual([2400, 600]);
    expectRelative(r.chiSquared, 0.05208333333333333, 1e-12);
    expectRelative(r.pValue, 0.8194769767775212, 1e-9);
    // Judged against the last weights alone, the same healthy counts would look like a mismatch (scipy: p = 9.7e-10).
    const naive = sampleRatioMismatch([{ counts: [2395, 605], weights: [75, 25] }])!;
    expectRelative(naive.pValue, 9.732476962477774e-10, 1e-9);
  });

  test('a version with weight 0 drops out, unless it served requests it should not have', () => {
    const r = sampleRatioMismatch([{ counts: [500, 480, 2], weights: [50, 50, 0] }])!;
    expect(r.observed).toEqual([500, 480]);
    expect(r.df).toBe(1);
    const leak = sampleRatioMismatch([{ counts: [500, 480, SRM_MIN_EXPECTED], weights: [50, 50, 0] }])!;
    expect(leak.pValue).toBe(0);
    expect(leak.observed).toEqual([500, 480, SRM_MIN_EXPECTED]);
  });

  test('too little traffic is not judged: an expected count below the minimum gives undefined', () => {
    expect(sampleRatioMismatch([{ counts: [85, 5], weights: [90, 10] }])).toBeUndefined(); // expected 9 for the canary
    expect(sampleRatioMismatch([{ counts: [90, 10], weights: [90, 10] }])).toBeDefined();
    expect(sampleRatioMismatch([])).toBeUndefined();
    expect(sampleRatioMismatch([{ counts: [100, 0], weights: [100, 0] }])).toBeUndefined();
  });

  test('errors name the period and the field', () => {
    expect(() =>
      sampleRatioMismatch([
        { counts: [1, 2], weights: [50, 50] },
        { counts: [1], weights: [100] },
      ]),
    ).toThrow('periods[1]: 1 counts and 1 weights; every period lists the same 2 versions');
    expect(() => sampleRatioMismatch([{ counts: [1.5, 2], weights: [50, 50] }])).toThrow('periods[0].counts[0]');
    expect(() => sampleRatioMismatch([{ counts: [1, 2], weights: [-5, 50] }])).toThrow('periods[0].weights[0]');
    expect(() => sampleRatioMismatch([{ counts: [1, 2], weights: [0, 0] }])).toThrow(
      '3 requests while every weight was 0',
    );
  });
});

describe('sequentialSampleRatio (Lindon & Malek 2022), against ssrm.sequential_p_values', () => {
  /** The running p-value over looks at these cumulative counts. */
  const looks = (cumulative: number[][], weights: number[]) => {
    let p = 1;
    return cumulative.map((counts) => (p = sequentialSampleRatio(counts, weights, p).pValue));
  };

  test.each([
    [
      'a 10% canary drifting to 12.5%',
      [
        [900, 100],
        [1790, 210],
        [2640, 360],
        [3500, 500],
      ],
      [90, 10],
      [1, 1, 0.25494488085266986, 0.02501173517931099],
    ],
    ['a 10% canary at 12% of 10,000', [[8800, 1200]], [90, 10], [3.0161115558474165e-5]],
    ['a healthy 10% canary', [[9040, 960]], [90, 10], [0.8962984658131897]],
    [
      'three versions at 40/40/20',
      [
        [410, 390, 200],
        [830, 760, 410],
        [1290, 1110, 600],
      ],
      [40, 40, 20],
      [1, 0.90651563227914, 0.273750458097562],
    ],
    ['a baseline and a canary at 10/10', [[4600, 5400]], [10, 10], [1.5834589675462118e-7]],
  ])('%s', (_what, cumulative, weights, expected) => {
    looks(cumulative, weights).forEach((p, i) => expectRelative(p, expected[i]!, 1e-9));
  });

  test('the running minimum never rises, and a weight of 0 must be dropped first', () => {
    const first = sequentialSampleRatio([8800, 1200], [90, 10]).pValue;
    expect(sequentialSampleRatio([9040, 960], [90, 10], first).pValue).toBe(first);
    expect(() => sequentialSampleRatio([10, 0], [100, 0])).toThrow('weights[1]: 0 leaves version 1 no share');
  });
});
