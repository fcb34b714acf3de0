// Holm's step-down adjustment. Expected values come from
// test/stats-reference/reference.py (scipy 1.17.1) unless noted.
import { describe, expect, test } from '@jest/globals';
import { holm } from './holm.js';
import { expectRelative } from './reference.test-helpers.js';

describe('holm', () => {
  test('p = (0.01, 0.04, 0.03, 0.005): adjusted (0.03, 0.06, 0.06, 0.02), by the definition in Holm (1979) (R p.adjust "holm")', () => {
    const r = holm([0.01, 0.04, 0.03, 0.005]);
    r.adjusted.forEach((p, i) => expectRelative(p, [0.03, 0.06, 0.06, 0.02][i]!, 1e-12));
    expect(r.rejected).toEqual([true, false, false, true]);
  });

  test('caps at 1 and handles empty input', () => {
    expect(holm([0.5, 0.9]).adjusted).toEqual([1, 1]);
    expect(holm([])).toEqual({ adjusted: [], rejected: [] });
  });
});
