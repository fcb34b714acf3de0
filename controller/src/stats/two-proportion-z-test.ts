// Two-proportion z-test, pooled, two-sided, with an unpooled Wald CI.
import { checkAlpha, checkCount, normalQuantile, twoSidedNormalP } from './distributions.js';

export interface ProportionSample {
  successes: number;
  trials: number;
}

export interface TwoProportionResult {
  test: 'two-proportion-z';
  stable: number;
  canary: number;
  /** canary − stable */
  difference: number;
  z: number;
  pValue: number;
  /** Unpooled Wald interval for canary − stable at 1 − alpha. */
  ci: [number, number];
  samples: { stable: number; canary: number };
}

/**
 * Tests H0: p_canary = p_stable with the pooled z statistic
 *   z = (p̂c − p̂s) / √(p̂(1 − p̂)(1/ns + 1/nc)),  p̂ = (xs + xc)/(ns + nc)
 * and reports the unpooled Wald interval p̂c − p̂s ± z₁₋α/₂ √(p̂s q̂s/ns + p̂c q̂c/nc).
 * See Agresti, Categorical Data Analysis (3rd ed.), §2.2; the squared z equals
 * Pearson's χ² of the 2×2 table without continuity correction (R: prop.test(correct=FALSE)).
 * Assumes independent Bernoulli trials and enough successes and failures for the
 * normal approximation. Throws a RangeError when either arm has no trials.
 * When both proportions are 0 or both 1 the statistic is 0 and the p-value 1.
 */
export function twoProportionZTest(
  stable: ProportionSample,
  canary: ProportionSample,
  alpha = 0.05,
): TwoProportionResult {
  checkAlpha(alpha);
  for (const [name, s] of [
    ['stable', stable],
    ['canary', canary],
  ] as const) {
    checkCount(s.trials, `${name}.trials`, 1);
    checkCount(s.successes, `${name}.successes`);
    if (s.successes > s.trials)
      throw new RangeError(`${name}.successes: ${s.successes} is more than ${name}.trials (${s.trials})`);
  }
  const ps = stable.successes / stable.trials;
  const pc = canary.successes / canary.trials;
  const pooled = (stable.successes + canary.successes) / (stable.trials + canary.trials);
  const sePooled = Math.sqrt(pooled * (1 - pooled) * (1 / stable.trials + 1 / canary.trials));
  const difference = pc - ps;
  const z = sePooled === 0 ? 0 : difference / sePooled;
  const seWald = Math.sqrt((ps * (1 - ps)) / stable.trials + (pc * (1 - pc)) / canary.trials);
  const half = normalQuantile(1 - alpha / 2) * seWald;
  return {
    test: 'two-proportion-z',
    stable: ps,
    canary: pc,
    difference,
    z,
    pValue: twoSidedNormalP(z),
    ci: [difference - half, difference + half],
    samples: { stable: stable.trials, canary: canary.trials },
  };
}
