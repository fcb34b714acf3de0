// The route a status calls for. Level-triggered reconciliation makes the
// router match this every round, finished rollouts included.
import { isFinished, type ModelRolloutSpec, type RolloutStatus } from '../api/schema.js';
import type { Stage } from './stages.js';

type VersionRef = ModelRolloutSpec['stable'];

export interface Route {
  canaryWeight: number;
  mirrorPercent: number;
  /** The baseline's share (spec.baseline): the canary's, while traffic is split; absent without a baseline. */
  baselineWeight?: number;
}

/** One destination of the route a rollout owns, with its share. */
interface WeightedRef {
  ref: VersionRef;
  weight: number;
}

/** Every weight of the owned route, in routedVersions order (the shares sum to 100), and the mirror to the canary. */
export interface RouteTarget {
  weights: WeightedRef[];
  mirror: { ref: VersionRef; percent: number };
}

/**
 * Promoted: all traffic to the canary; rolled back, failed or not started: none;
 * otherwise the stage's weights. A baseline takes the canary's share while
 * traffic is split, and none otherwise.
 */
export function routeOf(
  status: Pick<RolloutStatus, 'phase' | 'stage'>,
  stages: readonly Stage[],
  baseline = false,
): Route {
  const route = (canaryWeight: number, mirrorPercent: number): Route => ({
    canaryWeight,
    mirrorPercent,
    ...(baseline ? { baselineWeight: canaryWeight > 0 && canaryWeight < 100 ? canaryWeight : 0 } : {}),
  });
  if (status.phase === 'Promoted') return route(100, 0);
  if (isFinished(status.phase)) return route(0, 0);
  const stage = stages[status.stage];
  return route(stage?.weight ?? 0, stage?.mirrorPercent ?? 0);
}

/** The versions the owned route sends traffic to, in a fixed order: stable, the baseline when there is one, the canary. */
export function routedVersions(spec: ModelRolloutSpec): VersionRef[] {
  return [spec.stable, ...(spec.baseline ? [spec.baseline] : []), spec.canary];
}

/** The owned route's weights for `route`: stable takes what the others leave. */
export function routeTarget(spec: ModelRolloutSpec, route: Route): RouteTarget {
  const baseline = spec.baseline ? (route.baselineWeight ?? 0) : 0;
  return {
    weights: [
      { ref: spec.stable, weight: 100 - route.canaryWeight - baseline },
      ...(spec.baseline ? [{ ref: spec.baseline, weight: baseline }] : []),
      { ref: spec.canary, weight: route.canaryWeight },
    ],
    mirror: { ref: spec.canary, percent: route.mirrorPercent },
  };
}

/** Whether going from `current` to `next` gives the canary less or equal traffic on every path (weight and mirror). */
export function lowersExposure(current: Route, next: Route): boolean {
  return next.canaryWeight <= current.canaryWeight && next.mirrorPercent <= current.mirrorPercent;
}
