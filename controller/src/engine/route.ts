// The route a status calls for. Level-triggered reconciliation makes the
// router match this every round, finished rollouts included.
import { parseDuration } from '../../../shared/duration.js';
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
  /** strategy.stickiness while traffic is split: the new versions a user stays on once a response set its cookie. */
  sticky?: Stickiness;
}

/**
 * Sticky assignment, as Flagger's Istio session affinity does it: a response
 * from each version in `versions` (new versions with a weight strictly between
 * 0 and 100) sets the cookie `cookie=<version>`, and a route per version,
 * before the owned one, sends every request carrying it to that version. At
 * 100% or a rollback the routes go, so a rolled-back version gets no sticky
 * user back.
 */
export interface Stickiness {
  cookie: string;
  maxAgeSeconds: number;
  versions: VersionRef[];
}

/** The Set-Cookie value a sticky version's responses carry. */
export const stickyCookieValue = (sticky: Pick<Stickiness, 'cookie' | 'maxAgeSeconds'>, version: string) =>
  `${sticky.cookie}=${version}; Max-Age=${sticky.maxAgeSeconds}; Path=/`;

/** RE2 (full match) on the Cookie header for one version's sticky route. */
export const stickyCookieRegex = (cookie: string, version: string) =>
  `^(.*;\\s*)?${escapeRegex(cookie)}=${escapeRegex(version)}(;.*)?$`;

/** The name of the route weir adds for users stuck to `version`. */
export const stickyRouteName = (route: string, version: string) => `${route}-weir-sticky-${version}`;

const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A baseline's weight: the canary's share while traffic is split, none otherwise. */
export const baselineShare = (canaryWeight: number): number =>
  canaryWeight > 0 && canaryWeight < 100 ? canaryWeight : 0;

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
    ...(baseline ? { baselineWeight: baselineShare(canaryWeight) } : {}),
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
  const baseline = spec.baseline ? (route.baselineWeight ?? 0) : 0;
  const weights = route.weights
    ? routedVersions(spec).map((ref) => ({ ref, weight: route.weights![ref.version] ?? 0 }))
    : [
        { ref: spec.stable, weight: 100 - route.canaryWeight - baseline },
        ...(spec.baseline ? [{ ref: spec.baseline, weight: baseline }] : []),
        { ref: spec.canary, weight: route.canaryWeight },
      ];
  const { stickiness } = spec.strategy;
  // Users stick to the new versions while traffic is split (never to stable, nor to a baseline).
  const versions = weights
    .filter(({ ref, weight }) => ref !== spec.stable && ref !== spec.baseline && weight > 0 && weight < 100)
    .map((w) => w.ref);
  return {
    weights,
    mirror: { ref: spec.canary, percent: route.weights ? 0 : route.mirrorPercent },
    ...(stickiness && versions.length > 0
      ? { sticky: { cookie: stickiness.cookie, maxAgeSeconds: parseDuration(stickiness.maxAge) / 1000, versions } }
      : {}),
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
