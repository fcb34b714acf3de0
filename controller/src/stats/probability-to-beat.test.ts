// The probability that the canary beats stable. Expected values come from
// test/stats-reference/reference.py (scipy 1.17.1) unless noted.
import { describe, test } from '@jest/globals';
import { probabilityToBeat } from './probability-to-beat.js';
import { expectRelative } from './reference.test-helpers.js';

describe('probabilityToBeat', () => {
  test('Beta–Binomial with uniform priors (scipy quad of beta.pdf · beta.cdf)', () => {
    expectRelative(
      probabilityToBeat({ successes: 48, trials: 100 }, { successes: 56, trials: 100 }),
      0.8700757653144738,
      1e-8,
    );
    expectRelative(
      probabilityToBeat({ successes: 1080, trials: 2000 }, { successes: 1240, trials: 2000 }),
      0.9999998530485079,
      1e-8,
    );
    expectRelative(
      probabilityToBeat({ successes: 10, trials: 20 }, { successes: 9, trials: 20 }),
      0.378930898384328,
      1e-8,
    );
  });

  test('empty arms give the prior answer, 0.5', () => {
    expectRelative(probabilityToBeat({ successes: 0, trials: 0 }, { successes: 0, trials: 0 }), 0.5, 1e-12);
  });
});
