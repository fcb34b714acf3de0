// Sample sizes per arm and the ETA of enough samples. Expected values come from
// test/stats-reference/reference.py (scipy 1.17.1) unless noted.
import { describe, expect, test } from '@jest/globals';
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
