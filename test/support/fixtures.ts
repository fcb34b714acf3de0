// Rollouts for tests: one minimal spec (the seed model, VirtualService
// "predictor", route "primary", v1 → v2) that a test overrides field by field,
// instead of each test writing its own.
import {
  emptyStatus,
  specSchema,
  type ModelRollout,
  type ModelRolloutSpec,
  type ModelRolloutSpecInput,
} from '../../controller/src/api/schema.js';
import { parseRouteTable, type RouteTable } from '../../controller/src/local/gateway/routes.js';
import type { AppliedStep } from '../../controller/src/engine/types.js';
import { experimentResults, observe, type Observations } from '../../controller/src/analysis/observations.js';

/** The spec as a person writes it (defaults not filled in); `overrides` replace whole top-level fields. */
export function aSpecInput(overrides: Partial<ModelRolloutSpecInput> = {}): ModelRolloutSpecInput {
  return {
    model: 'price-direction',
    virtualService: { name: 'predictor', route: 'primary' },
    stable: { version: 'v1' },
    canary: { version: 'v2' },
    ...overrides,
  };
}

/** The spec with every default filled in, as the engine sees it. */
export function aSpec(overrides: Partial<ModelRolloutSpecInput> = {}): ModelRolloutSpec {
  return specSchema.parse(aSpecInput(overrides));
}

/** A ModelRollout document (what a file or kubectl holds), without status. */
export function aRolloutDocument(
  name = 'price-direction',
  overrides: Partial<ModelRolloutSpecInput> = {},
  namespace?: string,
) {
  return {
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'ModelRollout',
    metadata: { name, ...(namespace ? { namespace } : {}) },
    spec: aSpecInput(overrides),
  };
}

/** A ModelRollout as the stores return it: spec with defaults, and an empty status. */
export function aRollout(
  name = 'price-direction',
  overrides: Partial<ModelRolloutSpecInput> = {},
  namespace?: string,
): ModelRollout {
  return { ...aRolloutDocument(name, overrides, namespace), spec: aSpec(overrides), status: emptyStatus() };
}

/** A gateway route table with one route, `route`, of v1 at 100% and `canary` at 0%. */
export function aRouteTable(canary = 'v2', route = 'primary'): RouteTable {
  return parseRouteTable({
    http: [
      {
        name: route,
        route: [
          { destination: { host: 'predictor', subset: 'v1' }, weight: 100 },
          { destination: { host: 'predictor', subset: canary }, weight: 0 },
        ],
      },
    ],
  });
}

/** The record of a step a router keeps with the weights, as a test writes it. */
export function anAppliedStep(stepId: string, action: AppliedStep['action']): AppliedStep {
  return {
    attempt: 1,
    stepId,
    action,
    at: '2026-11-23T00:00:00.000Z',
    summary: `${action} for the test`,
    consumed: [],
  };
}

/** Query results for an experiment as planQueries keys them ("…/@v2"), turned into observations: per version, its requests, one guardrail value for every guardrail, and `labelled` predictions at its accuracy. */
export function experimentObservations(
  spec: ModelRolloutSpec,
  arms: Record<string, { accuracy: number; labelled: number; requests: number; guardrail?: number }>,
): Observations {
  const counts = Object.fromEntries(
    Object.entries(arms).map(([version, arm]) => [
      version,
      {
        requests: arm.requests,
        guardrail: arm.guardrail ?? 0.001,
        proportions: { accuracy: [arm.labelled * arm.accuracy, arm.labelled] as [number, number] },
      },
    ]),
  );
  return observe(spec, experimentResults(spec, counts));
}
