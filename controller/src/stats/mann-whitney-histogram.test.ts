// Mann–Whitney U on histogram buckets against scipy 1.17.1. Every expected value
// comes from test/stats-reference/reference.py, with the same inputs as written here.
import { describe, expect, test } from '@jest/globals';
import { mannWhitneyHistogram } from './mann-whitney-histogram.js';
import { expectRelative } from './reference.test-helpers.js';

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
