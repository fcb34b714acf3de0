// Holm–Bonferroni step-down adjustment across the metrics of one decision.
import { checkAlpha } from './distributions.js';

export interface HolmResult {
  /** Adjusted p-values, in the order given. */
  adjusted: number[];
  /** Whether each hypothesis is rejected at family-wise level alpha. */
  rejected: boolean[];
}

/**
 * Sort p ascending; adjusted p₍ᵢ₎ = max over j ≤ i of min(1, (m − j + 1)·p₍ⱼ₎).
 * Holm (1979), Scand. J. Statist. 6:65–70; R p.adjust(method = "holm").
 * Controls the family-wise error rate under any dependence. Empty input gives
 * empty output.
 */
export function holm(pValues: number[], alpha = 0.05): HolmResult {
  checkAlpha(alpha);
  pValues.forEach((p, i) => {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`pValues[${i}]: ${p} is not a p-value in [0, 1]`);
  });
  const m = pValues.length;
  const order = pValues.map((p, i) => ({ p, i })).sort((a, b) => a.p - b.p || a.i - b.i);
  const adjusted = new Array<number>(m);
  let running = 0;
  order.forEach(({ p, i }, rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * p));
    adjusted[i] = running;
  });
  return { adjusted, rejected: adjusted.map((p) => p <= alpha) };
}
