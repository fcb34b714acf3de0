// Mixture sequential probability ratio test (mSPRT): always-valid p-values and
// confidence intervals for a difference, safe to look at after every interval.
import { checkAlpha } from './distributions.js';

/** What carries over from one look to the next. Start with `initialMsprtState()`. */
export interface MsprtState {
  looks: number;
  /** Running minimum of 1/Λ: never increases. */
  pValue: number;
  /** Running intersection of the intervals: never widens. */
  ci: [number, number];
}

export interface MsprtLook {
  /** Estimated difference canary − stable at this look. */
  difference: number;
  /** Estimated variance of that difference (e.g. p̂s q̂s/ns + p̂c q̂c/nc, or s²s/ns + s²c/nc). */
  variance: number;
}

export interface MsprtResult extends MsprtState {
  test: 'msprt';
  /** The mixture likelihood ratio Λ at this look. */
  likelihoodRatio: number;
  difference: number;
}

/** The mSPRT state before the first look. */
export function initialMsprtState(): MsprtState {
  return { looks: 0, pValue: 1, ci: [-Infinity, Infinity] };
}

/**
 * With a normal mixing prior N(0, τ²) on the true difference θ and an estimate
 * θ̂ ~ N(θ, V), the mixture likelihood ratio against θ = 0 is
 *   Λ = √(V/(V + τ²)) · exp(τ²θ̂² / (2V(V + τ²))).
 * The always-valid p-value is the running minimum of 1/Λ, and the always-valid
 * (1 − α) interval is the running intersection of
 *   θ̂ ± √( V(V + τ²)/τ² · (2 ln(1/α) + ln((V + τ²)/V)) ).
 * Johari, Koomen, Pekelis & Walsh (2017), "Peeking at A/B Tests", KDD, §4;
 * Johari, Pekelis & Walsh (2015), "Always valid inference", arXiv:1512.04922.
 * Type I error stays ≤ α however often one looks (Ville's inequality); this
 * holds for the normal approximation of θ̂, so it needs moderate samples.
 * A look with no information (V not finite or ≤ 0) leaves the state unchanged.
 */
export function msprt(state: MsprtState, look: MsprtLook, tau: number, alpha = 0.05): MsprtResult {
  checkAlpha(alpha);
  if (!(tau > 0))
    throw new RangeError(`tau: ${tau} is not a positive mixing scale; use the minimum effect worth detecting`);
  const { difference, variance } = look;
  if (!(variance > 0) || !Number.isFinite(variance) || !Number.isFinite(difference)) {
    return { test: 'msprt', ...state, likelihoodRatio: 1, difference };
  }
  const tau2 = tau * tau;
  const logRatio =
    0.5 * Math.log(variance / (variance + tau2)) +
    (tau2 * difference * difference) / (2 * variance * (variance + tau2));
  const likelihoodRatio = Math.exp(logRatio);
  const pValue = Math.min(state.pValue, Math.min(1, Math.exp(-logRatio)));
  const half = Math.sqrt(
    ((variance * (variance + tau2)) / tau2) * (2 * Math.log(1 / alpha) + Math.log((variance + tau2) / variance)),
  );
  const ci: [number, number] = [Math.max(state.ci[0], difference - half), Math.min(state.ci[1], difference + half)];
  return { test: 'msprt', looks: state.looks + 1, pValue, ci, likelihoodRatio, difference };
}
