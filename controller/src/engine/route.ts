// The route a status calls for. Level-triggered reconciliation makes the
// router match this every round, finished rollouts included.
import { isFinished, type RolloutStatus } from '../api/schema.js';
import type { Stage } from './stages.js';

export interface Route {
  canaryWeight: number;
  mirrorPercent: number;
}

/** Promoted: all traffic to the canary; rolled back, failed or not started: none; otherwise the stage's weights. */
export function routeOf(status: Pick<RolloutStatus, 'phase' | 'stage'>, stages: readonly Stage[]): Route {
  if (status.phase === 'Promoted') return { canaryWeight: 100, mirrorPercent: 0 };
  if (isFinished(status.phase)) return { canaryWeight: 0, mirrorPercent: 0 };
  const stage = stages[status.stage];
  return { canaryWeight: stage?.weight ?? 0, mirrorPercent: stage?.mirrorPercent ?? 0 };
}

/** Whether going from `current` to `next` gives the canary less or equal traffic on every path (weight and mirror). */
export function lowersExposure(current: Route, next: Route): boolean {
  return next.canaryWeight <= current.canaryWeight && next.mirrorPercent <= current.mirrorPercent;
}
