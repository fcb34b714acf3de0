// Welch's t-test from summary statistics against scipy 1.17.1. Every expected value
// comes from test/stats-reference/reference.py, with the same inputs as written here.
import { describe, expect, test } from '@jest/globals';
import { momentsFromSums } from './moments-from-sums.js';
import { expectRelative } from './reference.test-helpers.js';
import { welchTTest } from './welch-t-test.js';

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
