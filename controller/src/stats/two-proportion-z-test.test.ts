// The two-proportion z-test against scipy 1.17.1. Every expected value comes from
// test/stats-reference/reference.py, with the same inputs as written here.
import { describe, expect, test } from '@jest/globals';
import { expectRelative } from './reference.test-helpers.js';
import { twoProportionZTest } from './two-proportion-z-test.js';

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
