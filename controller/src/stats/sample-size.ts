// Samples per arm needed to detect a minimum effect, and when they will arrive.
import { checkAlpha, normalQuantile } from './distributions.js';

export interface SampleSizeResult {
  perArm: number;
  alpha: number;
  power: number;
}

function checkPower(power: number): void {
  if (!(power > 0 && power < 1))
    throw new RangeError(`power: ${power} is not a probability; expected a number between 0 and 1, such as 0.8`);
}

/**
 * Two proportions, two-sided, p₁ = baseline, p₂ = baseline + mde (Fleiss,
 * Statistical Methods for Rates and Proportions, 2nd ed. 1981, eq. 3.14, without
 * continuity correction; the formula R's power.prop.test solves):
 *   n = (z₁₋α/₂ √(2 p̄ q̄) + z₁₋β √(p₁q₁ + p₂q₂))² / mde²,  p̄ = (p₁ + p₂)/2,
 * rounded up. `mde` may be negative (detecting a drop).
 */
export function sampleSizeProportion(
  baseline: number,
  mde: number,
  alpha = 0.05,
  power = 0.8,
): SampleSizeResult & { baseline: number; target: number } {
  checkAlpha(alpha);
  checkPower(power);
  if (!(baseline > 0 && baseline < 1))
    throw new RangeError(`baseline: ${baseline} is not a proportion strictly between 0 and 1`);
  const target = baseline + mde;
  if (mde === 0 || !(target > 0 && target < 1))
    throw new RangeError(`mde: ${mde} must be non-zero and keep baseline + mde (${target}) strictly between 0 and 1`);
  const mean = (baseline + target) / 2;
  const a = normalQuantile(1 - alpha / 2) * Math.sqrt(2 * mean * (1 - mean));
  const b = normalQuantile(power) * Math.sqrt(baseline * (1 - baseline) + target * (1 - target));
  return { perArm: Math.ceil((a + b) ** 2 / (mde * mde) - 1e-9), alpha, power, baseline, target };
}

/**
 * Two means with a common SD σ, two-sided: n = 2σ²(z₁₋α/₂ + z₁₋β)²/Δ², rounded up
 * (Chow, Shao & Wang, Sample Size Calculations in Clinical Research, §3.2.1).
 */
export function sampleSizeMean(
  sd: number,
  mde: number,
  alpha = 0.05,
  power = 0.8,
): SampleSizeResult & { sd: number; mde: number } {
  checkAlpha(alpha);
  checkPower(power);
  if (!(sd > 0)) throw new RangeError(`sd: ${sd} is not a positive standard deviation`);
  if (!(mde !== 0 && Number.isFinite(mde))) throw new RangeError(`mde: ${mde} must be a non-zero difference`);
  const z = normalQuantile(1 - alpha / 2) + normalQuantile(power);
  return { perArm: Math.ceil((2 * sd * sd * z * z) / (mde * mde) - 1e-9), alpha, power, sd, mde };
}

/**
 * Seconds until both arms hold `perArm` samples, when `ratePerSecond` requests
 * arrive in total and the canary receives `canaryWeight` percent of them.
 * Infinity when an arm receives no traffic; 0 when both already have enough.
 */
export function samplesEta(
  perArm: number,
  have: { stable: number; canary: number },
  ratePerSecond: number,
  canaryWeight: number,
): number {
  if (!(canaryWeight >= 0 && canaryWeight <= 100))
    throw new RangeError(`canaryWeight: ${canaryWeight} is not a percentage`);
  const wait = (missing: number, share: number) =>
    missing <= 0 ? 0 : share > 0 && ratePerSecond > 0 ? missing / (ratePerSecond * share) : Infinity;
  return Math.max(wait(perArm - have.stable, 1 - canaryWeight / 100), wait(perArm - have.canary, canaryWeight / 100));
}
