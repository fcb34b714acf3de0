// McNemar's test and the paired Wald interval. Every expected value comes from
// test/stats-reference/reference.py, with the same inputs as written here: the χ²
// and exact p-values from statsmodels 0.13.5 (Debian python3-statsmodels, run with
// /usr/bin/python3 and its scipy 1.10.1), which reference.py checks against scipy
// 1.17.1's chi2.sf and binomtest; the Wald difference, variance, z and interval by
// the formula of Agresti, Categorical Data Analysis (2nd ed.), §10.1, with scipy.
import { describe, expect, test } from '@jest/globals';
import { pairedProportionTest } from './mcnemar.js';
import { expectRelative } from './reference.test-helpers.js';

describe('pairedProportionTest', () => {
  test('Agresti CDA (2nd ed.) Table 10.1: 794 approve twice, 150 approve then disapprove, 86 the reverse, 570 disapprove twice', () => {
    // First survey = stable, second = canary: canaryOnly 86, stableOnly 150, n 1600.
    const r = pairedProportionTest({ canaryOnly: 86, stableOnly: 150, pairs: 1600 });
    expectRelative(r.difference, -0.04);
    expectRelative(r.variance, 9.11875e-5);
    expectRelative(r.z, -4.188826155949944);
    expectRelative(r.pValue, 2.8040109345366873e-5);
    expectRelative(r.ci[0], -0.05871611675033167);
    expectRelative(r.ci[1], -0.021283883249668335);
    expectRelative(r.statistic, 17.35593220338983);
    expectRelative(r.mcnemarPValue, 3.099293441045215e-5);
    expectRelative(r.exactPValue, 3.715936139571387e-5);
    // The textbook's rounded numbers: z = (86 − 150)/√236 = −4.17; −0.04 ± 1.96(0.0095) = (−0.06, −0.02).
    expect(Math.sign(r.difference) * Math.sqrt(r.statistic)).toBeCloseTo(-4.17, 2);
    expect(Math.sqrt(r.variance)).toBeCloseTo(0.0095, 4);
    expect(r.ci[0]).toBeCloseTo(-0.06, 2);
    expect(r.ci[1]).toBeCloseTo(-0.02, 2);
  });

  test('canaryOnly 612, stableOnly 530 of 20000 pairs, alpha 0.01 (statsmodels mcnemar)', () => {
    const r = pairedProportionTest({ canaryOnly: 612, stableOnly: 530, pairs: 20000 }, 0.01);
    expectRelative(r.difference, 0.0041);
    expectRelative(r.variance, 2.8541594999999998e-6);
    expectRelative(r.z, 2.4268600753043286);
    expectRelative(r.pValue, 0.015230128577156889);
    expectRelative(r.ci[0], -0.0002516724561164299);
    expectRelative(r.ci[1], 0.00845167245611643);
    expectRelative(r.statistic, 5.887915936952715);
    expectRelative(r.mcnemarPValue, 0.015245131830344734);
    expectRelative(r.exactPValue, 0.01649644961766057);
  });

  test('small counts: canaryOnly 7, stableOnly 2 of 40 pairs (statsmodels mcnemar)', () => {
    const r = pairedProportionTest({ canaryOnly: 7, stableOnly: 2, pairs: 40 });
    expectRelative(r.difference, 0.125);
    expectRelative(r.variance, 0.005234375);
    expectRelative(r.z, 1.72773685116272);
    expectRelative(r.pValue, 0.08403541351844354);
    expectRelative(r.ci[0], -0.0168013963773658);
    expectRelative(r.ci[1], 0.2668013963773658);
    expectRelative(r.statistic, 2.7777777777777777);
    expectRelative(r.mcnemarPValue, 0.09558070454562936);
    expectRelative(r.exactPValue, 0.1796875);
  });

  test('all 10 pairs discordant for the canary: variance 0, z ∞; McNemar p-values still finite (statsmodels)', () => {
    const r = pairedProportionTest({ canaryOnly: 10, stableOnly: 0, pairs: 10 });
    expect(r).toMatchObject({ difference: 1, variance: 0, z: Infinity, pValue: 0, ci: [1, 1], statistic: 10 });
    expectRelative(r.mcnemarPValue, 0.001565402258002549);
    expectRelative(r.exactPValue, 0.001953125);
  });

  test('no discordant pairs: statistic 0, every p-value 1, variance 0', () => {
    expect(pairedProportionTest({ canaryOnly: 0, stableOnly: 0, pairs: 50 })).toEqual({
      test: 'mcnemar',
      difference: 0,
      variance: 0,
      z: 0,
      pValue: 1,
      ci: [0, 0],
      statistic: 0,
      mcnemarPValue: 1,
      exactPValue: 1,
      pairs: 50,
    });
  });

  test('bad input names the field', () => {
    expect(() => pairedProportionTest({ canaryOnly: 0, stableOnly: 0, pairs: 0 })).toThrow(
      'table.pairs: 0 is not a whole number >= 1',
    );
    expect(() => pairedProportionTest({ canaryOnly: -1, stableOnly: 0, pairs: 5 })).toThrow(
      'table.canaryOnly: -1 is not a whole number >= 0',
    );
    expect(() => pairedProportionTest({ canaryOnly: 1, stableOnly: 2.5, pairs: 5 })).toThrow(
      'table.stableOnly: 2.5 is not a whole number >= 0',
    );
    expect(() => pairedProportionTest({ canaryOnly: 4, stableOnly: 3, pairs: 6 })).toThrow(
      'table.canaryOnly + table.stableOnly: 7 is more than table.pairs (6)',
    );
    expect(() => pairedProportionTest({ canaryOnly: 1, stableOnly: 1, pairs: 5 }, 0)).toThrow(
      'alpha: 0 is not a significance level',
    );
    expect(() => pairedProportionTest({ canaryOnly: 1, stableOnly: 1, pairs: 5 }, 0)).toThrow(RangeError);
  });
});
