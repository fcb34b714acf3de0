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
  /** An experiment's split: each version's weight (summing to 100); the canary's is also canaryWeight. */
  weights?: Record<string, number>;
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

/**
 * An experiment's route: Promoted, all traffic to the winner; otherwise
 * finished or not started, all to the control (stable); running, the split in
 * status (each version's weight).
 */
export function experimentRouteOf(
  spec: ModelRolloutSpec,
  status: Pick<RolloutStatus, 'phase' | 'stage' | 'weights' | 'experiment'>,
): Route {
  const versions = routedVersions(spec).map((ref) => ref.version);
  const all = (to: string) => Object.fromEntries(versions.map((v) => [v, v === to ? 100 : 0]));
  const winner = status.experiment?.winner;
  const weights =
    status.phase === 'Promoted' && winner && versions.includes(winner)
      ? all(winner)
      : isFinished(status.phase) || status.stage < 0 || !status.weights
        ? all(spec.stable.version)
        : Object.fromEntries(versions.map((v) => [v, status.weights![v] ?? 0]));
  return { canaryWeight: weights[spec.canary.version] ?? 0, mirrorPercent: 0, weights };
}

/** The versions the owned route sends traffic to, in a fixed order: stable, the baseline when there is one, the canary, then an experiment's other candidates. */
export function routedVersions(spec: ModelRolloutSpec): VersionRef[] {
  return [spec.stable, ...(spec.baseline ? [spec.baseline] : []), spec.canary, ...(spec.candidates ?? [])];
}

/** The owned route's weights for `route`: an experiment's split as given; otherwise stable takes what the others leave. */
export function routeTarget(spec: ModelRolloutSpec, route: Route): RouteTarget {
  if (route.weights)
    return {
      weights: routedVersions(spec).map((ref) => ({ ref, weight: route.weights![ref.version] ?? 0 })),
      mirror: { ref: spec.canary, percent: 0 },
    };
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

/**
 * Whether going from the `current` route to the `next` gives every new version
 * less or equal traffic on every path: the weights after the first (stable's),
 * in routedVersions order, and the mirror.
 */
export function lowersExposure(
  current: { weights: number[]; mirrorPercent: number },
  next: { weights: number[]; mirrorPercent: number },
): boolean {
  return (
    next.weights.every((w, i) => i === 0 || w <= (current.weights[i] ?? 0)) &&
    next.mirrorPercent <= current.mirrorPercent
  );
}
