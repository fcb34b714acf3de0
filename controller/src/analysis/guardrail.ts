// A guardrail's verdict for one check: pass, high, low, or nodata. Labels as in
// Kayenta's judge; nodata is never a pass.
import type { Guardrail } from '../api/schema.js';
import type { GuardrailObservation } from './observations.js';
import { formatNumber } from '../../../shared/format.js';

export type GuardrailVerdict = 'pass' | 'high' | 'low' | 'nodata';

export interface GuardrailJudgement {
  verdict: GuardrailVerdict;
  message: string;
  value?: number;
  stableValue?: number;
  threshold?: number;
}

const fmt = (n: number) => formatNumber(n, 4);

/** Judges one guardrail on the canary's value (and stable's, for relative bounds): pass, high, low, or nodata when a value is missing. */
export function judgeGuardrail(guardrail: Guardrail, observation: GuardrailObservation): GuardrailJudgement {
  const { canary, stable } = observation;
  if (canary === undefined) return { verdict: 'nodata', message: `${guardrail.name}: no data for the canary` };
  const base = { value: canary, ...(stable !== undefined ? { stableValue: stable } : {}) };
  if (guardrail.max !== undefined && canary > guardrail.max)
    return {
      verdict: 'high',
      message: `${guardrail.name}: canary ${fmt(canary)} is above max ${fmt(guardrail.max)}`,
      ...base,
      threshold: guardrail.max,
    };
  if (guardrail.min !== undefined && canary < guardrail.min)
    return {
      verdict: 'low',
      message: `${guardrail.name}: canary ${fmt(canary)} is below min ${fmt(guardrail.min)}`,
      ...base,
      threshold: guardrail.min,
    };
  const relative = [guardrail.maxRatio, guardrail.minRatio, guardrail.maxIncrease, guardrail.maxDecrease].some(
    (v) => v !== undefined,
  );
  if (relative) {
    if (stable === undefined)
      return {
        verdict: 'nodata',
        message: `${guardrail.name}: no data for stable, needed for a relative bound`,
        ...base,
      };
    if (guardrail.maxIncrease !== undefined && canary - stable > guardrail.maxIncrease) {
      return {
        verdict: 'high',
        message: `${guardrail.name}: canary ${fmt(canary)} exceeds stable ${fmt(stable)} by more than ${fmt(guardrail.maxIncrease)}`,
        ...base,
        threshold: stable + guardrail.maxIncrease,
      };
    }
    if (guardrail.maxDecrease !== undefined && stable - canary > guardrail.maxDecrease) {
      return {
        verdict: 'low',
        message: `${guardrail.name}: canary ${fmt(canary)} is below stable ${fmt(stable)} by more than ${fmt(guardrail.maxDecrease)}`,
        ...base,
        threshold: stable - guardrail.maxDecrease,
      };
    }
    if (guardrail.maxRatio !== undefined || guardrail.minRatio !== undefined) {
      if (stable === 0) {
        if (canary > 0 && guardrail.maxRatio !== undefined)
          return {
            verdict: 'high',
            message: `${guardrail.name}: canary ${fmt(canary)} against stable 0 exceeds any ratio`,
            ...base,
          };
      } else {
        const ratio = canary / stable;
        if (guardrail.maxRatio !== undefined && ratio > guardrail.maxRatio)
          return {
            verdict: 'high',
            message: `${guardrail.name}: canary/stable ${fmt(ratio)} is above ${fmt(guardrail.maxRatio)}`,
            ...base,
            threshold: stable * guardrail.maxRatio,
          };
        if (guardrail.minRatio !== undefined && ratio < guardrail.minRatio)
          return {
            verdict: 'low',
            message: `${guardrail.name}: canary/stable ${fmt(ratio)} is below ${fmt(guardrail.minRatio)}`,
            ...base,
            threshold: stable * guardrail.minRatio,
          };
      }
    }
  }
  return { verdict: 'pass', message: `${guardrail.name}: canary ${fmt(canary)} within bounds`, ...base };
}
