// A histogram comparison's resolution: buckets below it merge, so a shift among
// values below it (a quiet canary's fraction of a millisecond) is not judged,
// while one that reaches past it still is. Expected values from scipy through
// test/stats-reference/reference.py (mw_fine, mw_merged), with these inputs.
import { describe, expect, test } from '@jest/globals';
import type { ComparisonObservation } from '../analysis/observations.js';
import { twoSidedNormalP } from '../stats/distributions.js';
import { expectRelative } from '../stats/reference.test-helpers.js';
import { atResolution, evaluateComparisons } from './comparisons.js';
import { accuracyGuard, specWith } from './decide.test-helpers.js';

const bounds = [0.5, 1, 5, 10, Infinity];
/** 400 stable requests, 45% under 1 ms; 40 canary ones, 10% under 1 ms; nearly all under 5 ms in both. */
const quietCanary = { bounds, stable: [20, 180, 390, 398, 400], canary: [0, 4, 38, 40, 40] };

function latency(resolution?: number) {
  return specWith({
    analysis: {
      guardrails: [],
      comparisons: [
        {
          name: 'latency',
          type: 'histogram',
          better: 'lower',
          minEffect: 0.1,
          buckets: 'b',
          ...(resolution !== undefined ? { resolution } : {}),
        },
      ],
    },
  });
}

function judged(resolution: number | undefined, h: typeof quietCanary) {
  const observation: ComparisonObservation = { name: 'latency', type: 'histogram', ...h };
  return evaluateComparisons(latency(resolution), [observation], {})[0]!;
}

describe('histogram resolution', () => {
  test('atResolution drops the cumulative counts below the first bound at or above it', () => {
    expect(atResolution(quietCanary, 5)).toEqual({
      bounds: [5, 10, Infinity],
      stable: [390, 398, 400],
      canary: [38, 40, 40],
    });
    expect(atResolution(quietCanary, 3)).toEqual(atResolution(quietCanary, 5));
    expect(atResolution(quietCanary, 0.5)).toEqual(quietCanary);
    expect(atResolution(quietCanary, undefined)).toEqual(quietCanary);
    // Above every finite bound: everything ties in +Inf.
    expect(atResolution(quietCanary, 100)).toEqual({ bounds: [Infinity], stable: [400], canary: [40] });
  });

  test('without a resolution the sub-millisecond shift is judged: U 10878 of 16000 pairs, p 2.09e-5 (scipy)', () => {
    const outcome = judged(undefined, quietCanary);
    expect(outcome.reason.effect).toBeCloseTo(10878 / 16000 - 0.5, 12);
    // The fixed-sample z behind the estimate is scipy's; the verdict uses mSPRT's always-valid p.
    expectRelative(twoSidedNormalP(outcome.reason.z!), 2.0855701588511885e-5, 1e-7);
    expect(outcome.verdict).toBe('harmful');
  });

  test('at resolution 5 the values below 5 ms tie: U 8198 of 16000, p 0.361 (scipy), and nothing is harmful', () => {
    const outcome = judged(5, quietCanary);
    expect(outcome.reason.effect).toBeCloseTo(8198 / 16000 - 0.5, 12);
    expectRelative(twoSidedNormalP(outcome.reason.z!), 0.36128342937917557, 1e-7);
    expect(outcome.verdict).toBe('inconclusive');
  });

  test('a shift past the resolution is still judged: a canary with 60% of its requests over 5 ms is harmful', () => {
    const outcome = judged(5, { bounds, stable: [20, 180, 390, 398, 400], canary: [0, 4, 16, 30, 40] });
    expect(outcome.verdict).toBe('harmful');
  });
});

describe('intervals stay where the difference can lie', () => {
  test('a difference of proportions on 34 and 26 labels: the Wald-based interval is cut at −1, not −1.09', () => {
    const spec = accuracyGuard(0.01, 0.05);
    const observation: ComparisonObservation = {
      name: 'accuracy',
      type: 'proportion',
      stable: { successes: 23, trials: 34 },
      canary: { successes: 1, trials: 26 },
    };
    const { reason, verdict } = evaluateComparisons(spec, [observation], {})[0]!;
    // canary − stable = 1/26 − 23/34 = −0.6380; V = p(1−p)/n summed = 0.0078595; mSPRT half-width
    // √(V(V+τ²)/τ² · (2 ln 20 + ln((V+τ²)/V))) = 0.4518 at τ = 0.05, so −1.0898 to −0.1862 before the cut.
    expect(reason.effect).toBeCloseTo(1 / 26 - 23 / 34, 12);
    expect(reason.ci![0]).toBe(-1);
    expect(reason.ci![1]).toBeCloseTo(-0.1862, 3);
    expect(verdict).toBe('harmful');
  });
});
