// The chi-squared test of independence against scipy 1.17.1. Every expected value
// comes from test/stats-reference/reference.py, with the same inputs as written here.
import { describe, expect, test } from '@jest/globals';
import { chiSquaredIndependence } from './chi-squared-independence.js';
import { expectRelative } from './reference.test-helpers.js';

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
