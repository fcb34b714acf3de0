// Probability that the challenger's true rate beats the champion's, for reports.
import { betaln, checkCount, normalCdf } from './distributions.js';
import type { ProportionSample } from './two-proportion-z-test.js';

/** Above this many canary successes the exact sum is replaced by a normal approximation. */
const EXACT_LIMIT = 200_000;

/**
 * With uniform Beta(1, 1) priors the posteriors are Beta(1 + x, 1 + n − x), and
 *   P(p_c > p_s) = Σ_{i=0}^{a_c − 1} B(a_s + i, b_s + b_c) / ((b_c + i) B(1 + i, b_c) B(a_s, b_s))
 * (Miller, "Formulas for Bayesian A/B Testing", 2015; Cook 2005), summed in log
 * space. Above 200,000 canary successes the posteriors are treated as normal.
 * Empty arms give the prior's answer, 0.5.
 */
export function probabilityToBeat(stable: ProportionSample, canary: ProportionSample): number {
  for (const [name, s] of [
    ['stable', stable],
    ['canary', canary],
  ] as const) {
    checkCount(s.trials, `${name}.trials`);
    checkCount(s.successes, `${name}.successes`);
    if (s.successes > s.trials)
      throw new RangeError(`${name}.successes: ${s.successes} is more than ${name}.trials (${s.trials})`);
  }
  const as = 1 + stable.successes;
  const bs = 1 + stable.trials - stable.successes;
  const ac = 1 + canary.successes;
  const bc = 1 + canary.trials - canary.successes;
  if (ac - 1 > EXACT_LIMIT) {
    const mean = (a: number, b: number) => a / (a + b);
    const variance = (a: number, b: number) => (a * b) / ((a + b) ** 2 * (a + b + 1));
    return normalCdf((mean(ac, bc) - mean(as, bs)) / Math.sqrt(variance(ac, bc) + variance(as, bs)));
  }
  let total = 0;
  const constant = betaln(as, bs);
  for (let i = 0; i < ac; i++)
    total += Math.exp(betaln(as + i, bs + bc) - Math.log(bc + i) - betaln(1 + i, bc) - constant);
  return Math.min(1, Math.max(0, total));
}
