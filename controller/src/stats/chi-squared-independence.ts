// Pearson's chi-squared test of independence for class mixes (k classes × 2 versions).
import { checkCount, chiSquareSf } from './distributions.js';

export interface ChiSquaredResult {
  test: 'chi-squared-independence';
  chiSquared: number;
  df: number;
  pValue: number;
  /** Cramér's V, an effect size in [0, 1]. */
  cramersV: number;
  samples: { stable: number; canary: number };
}

/**
 * χ² = Σ (O − E)²/E over a k×2 table of counts (rows: classes; columns: stable,
 * canary), E = row total × column total / N, df = (k' − 1), where k' counts the
 * classes seen at least once (empty rows carry no information and are dropped).
 * No continuity correction. Pearson (1900); Agresti §3.2; equals
 * scipy.stats.chi2_contingency(table, correction=False). Assumes independent
 * observations and expected counts of about 5 or more. Throws a RangeError when
 * a version has no observations or fewer than two classes were seen.
 */
export function chiSquaredIndependence(stable: number[], canary: number[]): ChiSquaredResult {
  if (stable.length !== canary.length)
    throw new RangeError(
      `canary: ${canary.length} class counts, but stable has ${stable.length}; both list the same classes`,
    );
  stable.forEach((n, i) => checkCount(n, `stable[${i}]`));
  canary.forEach((n, i) => checkCount(n, `canary[${i}]`));
  const rows = stable.map((n, i) => [n, canary[i]!] as const).filter(([a, b]) => a + b > 0);
  const ns = stable.reduce((a, b) => a + b, 0);
  const nc = canary.reduce((a, b) => a + b, 0);
  if (ns === 0 || nc === 0)
    throw new RangeError(`${ns === 0 ? 'stable' : 'canary'}: no observations; the test needs both versions`);
  if (rows.length < 2) throw new RangeError(`classes: only ${rows.length} class seen; the test needs at least 2`);
  const total = ns + nc;
  let chiSquared = 0;
  for (const [a, b] of rows) {
    const rowTotal = a + b;
    const ea = (rowTotal * ns) / total;
    const eb = (rowTotal * nc) / total;
    chiSquared += (a - ea) ** 2 / ea + (b - eb) ** 2 / eb;
  }
  const df = rows.length - 1;
  return {
    test: 'chi-squared-independence',
    chiSquared,
    df,
    pValue: chiSquareSf(chiSquared, df),
    cramersV: Math.sqrt(chiSquared / total),
    samples: { stable: ns, canary: nc },
  };
}
