// What the engine's tests share: a spec with one guardrail and one primary
// comparison, observations to feed it, and `step`, which runs decide and feeds
// status back as a controller would, moving time instead of sleeping.
import { emptyStatus, specSchema, type ModelRolloutSpecInput, type RolloutStatus } from '../api/schema.js';
import type { Observations } from '../analysis/observations.js';
import { aSpecInput } from '../../../test/support/fixtures.js';
import { decide } from './decide.js';
import type { Command, Decision } from './types.js';

export const T0 = Date.parse('2026-11-22T10:00:00Z');
export const MIN = 60_000;

export function specWith(overrides: Partial<ModelRolloutSpecInput> = {}) {
  return specSchema.parse({
    ...aSpecInput(),
    strategy: { steps: [10, 50, 100], minStageDuration: '5m', minSamplesPerStage: 100, maxDuration: '2h' },
    analysis: {
      guardrails: [{ name: 'error-rate', query: 'q', max: 0.05, failureLimit: 2 }],
      comparisons: [
        { name: 'accuracy', type: 'proportion', role: 'primary', successes: 's', trials: 't', minEffect: 0.01 },
      ],
    },
    ...overrides,
  });
}

/** Accuracy (a proportion) as the only comparison, a guard with this minEffect and tau, and no guardrails. */
export function accuracyGuard(minEffect: number, tau: number) {
  return specWith({
    analysis: {
      guardrails: [],
      comparisons: [
        { name: 'accuracy', type: 'proportion', role: 'guard', successes: 's', trials: 't', minEffect, tau },
      ],
    },
  });
}

/** obs()'s default request counts: 10,000 requests split as the weights in force route them, filled in by step(). */
const AS_ROUTED = -1;

/**
 * Observations with an error rate and accuracy counts per arm. By default both
 * arms are equal (60%) with 200,000 labels each: enough for the always-valid
 * interval to lie within minEffect 0.01, so the stage gate's non-inferiority holds.
 */
export function obs(
  o: { errorRate?: number | undefined; stable?: [number, number]; canary?: [number, number]; samples?: number } = {},
): Observations {
  const [ss, sn] = o.stable ?? [120_000, 200_000];
  const [cs, cn] = o.canary ?? [120_000, 200_000];
  return {
    samples: { stable: o.samples ?? AS_ROUTED, canary: o.samples ?? AS_ROUTED },
    guardrails: [{ name: 'error-rate', canary: 'errorRate' in o ? o.errorRate : 0.01, stable: 0.01 }],
    comparisons: [
      {
        name: 'accuracy',
        type: 'proportion',
        stable: { successes: ss, trials: sn },
        canary: { successes: cs, trials: cn },
      },
    ],
  };
}

/** Runs decide and feeds the status back, as a controller would. */
export function step(
  spec: ReturnType<typeof specWith>,
  status: RolloutStatus,
  observations: Observations,
  now: number,
  commands: Command[] = [],
): Decision {
  return decide({ spec, status, observations: asRouted(spec, status, observations), commands, now });
}

/** Fills obs()'s default request counts in as the route in force splits 10,000 requests (the canary's weight, the baseline's equal share or stable's rest), so the sample-ratio check sees healthy traffic. */
function asRouted(spec: ReturnType<typeof specWith>, status: RolloutStatus, observations: Observations): Observations {
  if (observations.samples.canary !== AS_ROUTED) return observations;
  const weight = status.canaryWeight;
  return {
    ...observations,
    samples: { stable: 100 * (spec.baseline ? weight : 100 - weight), canary: 100 * weight },
  };
}

export function started(spec = specWith()) {
  return step(spec, emptyStatus(), obs(), T0);
}
