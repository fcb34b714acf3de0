// Lan–DeMets alpha-spending boundaries against scipy's multivariate normal CDF
// (test/stats-reference/reference.py).
import { describe, expect, test } from '@jest/globals';
import { alphaSpent, nextBoundary, type SpendingState } from './alpha-spending.js';
import { expectRelative } from './reference.test-helpers.js';

describe('Lan–DeMets alpha spending', () => {
  function boundaries(kind: 'obrien-fleming' | 'pocock', fractions: number[]): number[] {
    let state: SpendingState = { looks: [] };
    return fractions.map((t) => {
      const look = nextBoundary(kind, 0.05, state, t);
      state = look.state;
      return look.boundary;
    });
  }

  test("O'Brien–Fleming type, looks at 1/3, 2/3, 1 (scipy multivariate_normal + brentq)", () => {
    boundaries('obrien-fleming', [1 / 3, 2 / 3, 1]).forEach((b, i) =>
      expectRelative(b, [3.3947572022285786, 2.406732612600659, 2.015252243366217][i]!, 5e-5),
    );
  });

  test('Pocock type, looks at 1/3, 2/3, 1 (scipy)', () => {
    boundaries('pocock', [1 / 3, 2 / 3, 1]).forEach((b, i) =>
      expectRelative(b, [2.2794282389170117, 2.294911132375892, 2.2959040736728076][i]!, 5e-5),
    );
  });

  test("O'Brien–Fleming type, uneven looks at 0.2, 0.5, 0.9 (scipy)", () => {
    boundaries('obrien-fleming', [0.2, 0.5, 0.9]).forEach((b, i) =>
      expectRelative(b, [4.382612702882669, 2.772104791365078, 2.0895504932248916][i]!, 5e-5),
    );
  });

  test('spending functions spend all of alpha at t = 1 and nothing at 0', () => {
    for (const kind of ['obrien-fleming', 'pocock'] as const) {
      expectRelative(alphaSpent(kind, 0.05, 1), 0.05, 1e-12);
      expect(alphaSpent(kind, 0.05, 0)).toBe(0);
    }
  });

  test('looks must move forward', () => {
    const first = nextBoundary('pocock', 0.05, { looks: [] }, 0.5);
    expect(() => nextBoundary('pocock', 0.05, first.state, 0.4)).toThrow(
      "fraction: 0.4 does not rise above the previous look's 0.5",
    );
  });
});
