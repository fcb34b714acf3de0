// Fixed-horizon tests against scipy 1.17.1. Every expected value comes from
// test/stats-reference/reference.py, with the same inputs as written here.
import { describe, expect, test } from '@jest/globals';
import { chiSquaredIndependence } from './chi-squared-independence.js';
import { mannWhitneyHistogram } from './mann-whitney-histogram.js';
import { momentsFromSums } from './moments-from-sums.js';
import { expectRelative } from './reference.test-helpers.js';
import { twoProportionZTest } from './two-proportion-z-test.js';
import { welchTTest } from './welch-t-test.js';

describe('twoProportionZTest', () => {
  test('stable 480/1000, canary 530/1000 (scipy chi2_contingency, correction=False; z = sign·√χ²)', () => {
    const r = twoProportionZTest({ successes: 480, trials: 1000 }, { successes: 530, trials: 1000 });
    expectRelative(r.difference, 0.05);
    expectRelative(r.z, 2.2361797892846185);
    expectRelative(r.pValue, 0.025339996552342394, 1e-7);
    expectRelative(r.ci[0], 0.006230884017607158);
    expectRelative(r.ci[1], 0.09376911598239293);
  });

  test('stable 1200/5000, canary 1100/4800, alpha 0.01 (scipy)', () => {
    const r = twoProportionZTest({ successes: 1200, trials: 5000 }, { successes: 1100, trials: 4800 }, 0.01);
    expectRelative(r.z, -1.2649874452795895);
    expectRelative(r.pValue, 0.20587582842459998, 1e-7);
    expectRelative(r.ci[0], -0.0328836867480584);
    expectRelative(r.ci[1], 0.011217020081391735);
  });

  test('identical all-success arms: z 0, p 1; bad input names the field', () => {
    expect(twoProportionZTest({ successes: 10, trials: 10 }, { successes: 5, trials: 5 })).toMatchObject({
      z: 0,
      pValue: 1,
    });
    expect(() => twoProportionZTest({ successes: 0, trials: 0 }, { successes: 1, trials: 2 })).toThrow(
      'stable.trials: 0 is not a whole number >= 1',
    );
    expect(() => twoProportionZTest({ successes: 5, trials: 4 }, { successes: 1, trials: 2 })).toThrow(
      'stable.successes: 5 is more than stable.trials (4)',
    );
    expect(() => twoProportionZTest({ successes: 1, trials: 4 }, { successes: 1, trials: 2 }, 1.5)).toThrow(
      'alpha: 1.5 is not a significance level',
    );
  });
});

describe('welchTTest', () => {
  test('stable n=200 mean 0.150 sd 0.030, canary n=180 mean 0.158 sd 0.041 (scipy ttest_ind_from_stats, equal_var=False)', () => {
    const r = welchTTest({ n: 200, mean: 0.15, sd: 0.03 }, { n: 180, mean: 0.158, sd: 0.041 });
    expectRelative(r.t, 2.15049964786038);
    expectRelative(r.df, 325.15664178498906);
    expectRelative(r.pValue, 0.03225255893187186, 1e-7);
    expectRelative(r.ci[0], 0.0006815648192715316, 1e-7);
    expectRelative(r.ci[1], 0.015318435180728483, 1e-8);
  });

  test('stable n=35 mean 12.5 sd 4.0, canary n=20 mean 10.9 sd 6.5, alpha 0.1 (scipy)', () => {
    const r = welchTTest({ n: 35, mean: 12.5, sd: 4 }, { n: 20, mean: 10.9, sd: 6.5 }, 0.1);
    expectRelative(r.t, -0.9981219334448208);
    expectRelative(r.df, 27.395981224634077);
    expectRelative(r.pValue, 0.3269551429781892, 1e-7);
    expectRelative(r.ci[0], -4.328988630521096, 1e-7);
    expectRelative(r.ci[1], 1.1289886305210959, 1e-7);
  });

  test('moments from Prometheus sums: x = 1, 2, 3, 4 → n 4, mean 2.5, sd √(5/3)', () => {
    const m = momentsFromSums(4, 10, 30);
    expect(m.n).toBe(4);
    expectRelative(m.mean, 2.5);
    expectRelative(m.sd, Math.sqrt(5 / 3));
    expect(() => momentsFromSums(1, 1, 1, 'canary')).toThrow(
      'canary: 1 observations; a mean comparison needs at least 2',
    );
  });

  test('zero variance in both arms', () => {
    expect(welchTTest({ n: 5, mean: 1, sd: 0 }, { n: 5, mean: 1, sd: 0 })).toMatchObject({ t: 0, pValue: 1 });
    expect(welchTTest({ n: 5, mean: 1, sd: 0 }, { n: 5, mean: 2, sd: 0 })).toMatchObject({ t: Infinity, pValue: 0 });
  });
});

describe('mannWhitneyHistogram', () => {
  const bounds = [0.001, 0.0025, 0.005, 0.01, 0.025, Infinity];
  test('latency histograms, cumulative stable [10,40,90,140,190,200], canary [5,25,60,110,170,200] (scipy mannwhitneyu(canary, stable), asymptotic, continuity)', () => {
    const r = mannWhitneyHistogram(
      bounds,
      { cumulative: [10, 40, 90, 140, 190, 200] },
      { cumulative: [5, 25, 60, 110, 170, 200] },
    );
    expect(r.u).toBe(24300);
    expectRelative(r.pValue, 0.00013703015870905548, 1e-7);
    expect(r.z).toBeGreaterThan(0); // the canary is slower
    expectRelative(r.probabilityCanaryHigher, 24300 / 40000);
  });

  test('five buckets, 1000 per arm: stable [300,700,900,980,1000], canary [250,640,880,975,1000] (scipy)', () => {
    const r = mannWhitneyHistogram(
      [0.005, 0.01, 0.05, 0.1, Infinity],
      { cumulative: [300, 700, 900, 980, 1000] },
      { cumulative: [250, 640, 880, 975, 1000] },
    );
    expect(r.u).toBe(538550);
    expectRelative(r.pValue, 0.0017132334479255864, 1e-7);
  });

  test('errors name the bucket and arm', () => {
    expect(() =>
      mannWhitneyHistogram([0.1, 0.05, Infinity], { cumulative: [1, 2, 3] }, { cumulative: [1, 2, 3] }),
    ).toThrow('buckets[1]: 0.05 does not rise above 0.1');
    expect(() => mannWhitneyHistogram([0.1, 1], { cumulative: [1, 2] }, { cumulative: [1, 2] })).toThrow(
      'the last bound is 1; it must be +Inf',
    );
    expect(() => mannWhitneyHistogram([0.1, Infinity], { cumulative: [5, 3] }, { cumulative: [1, 2] })).toThrow(
      'stable[1]: 3 is below the previous bucket',
    );
    expect(() => mannWhitneyHistogram([0.1, Infinity], { cumulative: [0, 0] }, { cumulative: [1, 2] })).toThrow(
      'stable: the histogram is empty',
    );
  });
});

describe('chiSquaredIndependence', () => {
  test('class mix stable [30,50,20], canary [45,40,15] (scipy chi2_contingency, correction=False)', () => {
    const r = chiSquaredIndependence([30, 50, 20], [45, 40, 15]);
    expectRelative(r.chiSquared, 4.825396825396824);
    expect(r.df).toBe(2);
    expectRelative(r.pValue, 0.08957326253888001, 1e-7);
  });

  test('a class never seen is dropped: [120,80,0,40] vs [100,95,0,55] equals scipy on the 3-class table', () => {
    const r = chiSquaredIndependence([120, 80, 0, 40], [100, 95, 0, 55]);
    expectRelative(r.chiSquared, 5.270430622009568);
    expect(r.df).toBe(2);
    expectRelative(r.pValue, 0.07170352918750976, 1e-7);
  });

  test('errors', () => {
    expect(() => chiSquaredIndependence([1, 2], [1])).toThrow('canary: 1 class counts, but stable has 2');
    expect(() => chiSquaredIndependence([0, 0], [1, 2])).toThrow('stable: no observations');
    expect(() => chiSquaredIndependence([5, 0], [3, 0])).toThrow('only 1 class seen');
  });
});
