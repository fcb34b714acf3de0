// What weir changes in a VirtualService, as pure functions on its HTTP routes:
// the weights of every destination (stable, baseline, canary) and the mirror
// of the one route it owns by name, plus an optional
// header-match route of its own for A/B. Every other route, and every field
// weir does not own (timeouts, retries, CORS, matches...), is copied as it is.
import type { ModelRolloutSpec } from '../../api/schema.js';
import { boundedStep, parseAppliedStep } from '../../engine/applied-step.js';
import {
  routedVersions,
  stickyCookieRegex,
  stickyCookieValue,
  stickyRouteName,
  type RouteTarget,
} from '../../engine/route.js';
import type { AppliedStep } from '../../engine/types.js';
import { RouteConfigError } from '../types.js';

/** The VirtualService annotation holding, per rollout name, the step whose weights weir last wrote (JSON). */
export const APPLIED_STEPS_ANNOTATION = 'weir.dev/applied-steps';

type VersionRef = ModelRolloutSpec['stable'];

export interface IstioDestination {
  host: string;
  subset?: string;
  port?: unknown;
}

export interface IstioHttpRoute {
  name?: string;
  match?: unknown[];
  route?: { destination: IstioDestination; weight?: number; [key: string]: unknown }[];
  mirror?: IstioDestination;
  mirrorPercentage?: { value: number };
  [key: string]: unknown;
}

/** The name of the header-match route weir adds for `strategy.headerRoute`. */
export const headerRouteName = (spec: ModelRolloutSpec) => `${spec.virtualService.route}-weir-canary`;

const describeRef = (ref: VersionRef) =>
  ref.host ? `host ${ref.host}${ref.subset ? ` subset ${ref.subset}` : ''}` : `subset ${ref.subset ?? ref.version}`;

/** Whether a destination is the one a version reference names (by subset, or by host). */
export function isDestinationOf(destination: IstioDestination, ref: VersionRef): boolean {
  if (ref.host) return destination.host === ref.host && (destination.subset ?? undefined) === (ref.subset ?? undefined);
  return destination.subset === (ref.subset ?? ref.version);
}

/** The HTTP route a rollout owns, by name; a RouteConfigError when it or its stable destination is missing. */
export function ownedRoute(http: IstioHttpRoute[] | undefined, spec: ModelRolloutSpec, vsName: string): IstioHttpRoute {
  const name = spec.virtualService.route;
  const route = (http ?? []).find((r) => r.name === name);
  if (!route) {
    const names = (http ?? []).map((r) => r.name ?? '(unnamed)');
    throw new RouteConfigError(
      'RouteNotFound',
      `VirtualService ${vsName} has no HTTP route named "${name}" (routes: ${names.join(', ') || 'none'}); name the route weir owns in spec.virtualService.route`,
    );
  }
  if (!route.route?.some((d) => isDestinationOf(d.destination, spec.stable))) {
    throw new RouteConfigError(
      'DestinationNotFound',
      `route "${name}" of VirtualService ${vsName} has no destination for the stable version (${describeRef(spec.stable)})`,
    );
  }
  return route;
}

/** The destination a version reference resolves to in this route: its own entry, or the stable entry's host with the version's subset. */
export function destinationFor(route: IstioHttpRoute, ref: VersionRef, stable: VersionRef): IstioDestination {
  const existing = route.route?.find((d) => isDestinationOf(d.destination, ref))?.destination;
  if (existing) return { ...existing };
  if (ref.host) return { host: ref.host, ...(ref.subset ? { subset: ref.subset } : {}) };
  const host = route.route!.find((d) => isDestinationOf(d.destination, stable))!.destination.host;
  return { host, subset: ref.subset ?? ref.version };
}

/** The owned route's weight for each version the rollout routes to (routedVersions order; 0 when absent), and the share weir mirrors to the canary (Istio mirrors 100% when mirrorPercentage is unset). */
export function weightsOfRoute(
  route: IstioHttpRoute,
  spec: ModelRolloutSpec,
): { weights: number[]; mirrorPercent: number } {
  const entries = route.route ?? [];
  const weightOf = (ref: VersionRef) => {
    const entry = entries.find((d) => isDestinationOf(d.destination, ref));
    return entry ? (entry.weight ?? (entries.length === 1 ? 100 : 0)) : 0;
  };
  const mirrorPercent =
    route.mirror && isDestinationOf(route.mirror, spec.canary) ? (route.mirrorPercentage?.value ?? 100) : 0;
  return { weights: routedVersions(spec).map(weightOf), mirrorPercent };
}

function appliedSteps(annotations: Record<string, string> | undefined): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(annotations?.[APPLIED_STEPS_ANNOTATION] ?? '{}');
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

/** The step record weir keeps for `rollout` in a VirtualService's annotations. */
export function appliedStepOf(
  annotations: Record<string, string> | undefined,
  rollout: string,
): AppliedStep | undefined {
  const steps = appliedSteps(annotations);
  return Object.hasOwn(steps, rollout) ? parseAppliedStep(steps[rollout]) : undefined;
}

/** The annotation value with `rollout`'s record replaced; records of other rollouts sharing the VirtualService stay. */
export function withAppliedStep(
  annotations: Record<string, string> | undefined,
  rollout: string,
  step: AppliedStep,
): string {
  const steps = Object.fromEntries(Object.entries(appliedSteps(annotations)).filter(([name]) => name !== rollout));
  return JSON.stringify({ ...steps, [rollout]: boundedStep(step) });
}

/**
 * The VirtualService's HTTP routes with the owned route carrying `target`'s
 * weights, one entry per destination it names (any other destination of that
 * route at 0), and its mirror set; the header route present during canary
 * stages when the strategy asks for it.
 */
export function rewriteRoutes(
  http: IstioHttpRoute[],
  spec: ModelRolloutSpec,
  vsName: string,
  target: RouteTarget,
): IstioHttpRoute[] {
  const total = target.weights.reduce((sum, w) => sum + w.weight, 0);
  for (const { ref, weight } of target.weights)
    if (!Number.isInteger(weight) || weight < 0 || weight > 100)
      throw new RangeError(`weight ${weight} of version ${ref.version} is not a whole percentage`);
  if (total !== 100) throw new RangeError(`weights ${target.weights.map((w) => w.weight).join('+')} do not sum to 100`);
  const owned = ownedRoute(http, spec, vsName);
  const entries = owned.route ?? [];
  const named = (d: { destination: IstioDestination }) =>
    target.weights.some((w) => isDestinationOf(d.destination, w.ref));
  const next: IstioHttpRoute = structuredClone(owned);
  next.route = [
    ...target.weights.map(({ ref, weight }) => ({
      ...structuredClone(
        entries.find((d) => isDestinationOf(d.destination, ref)) ?? {
          destination: destinationFor(owned, ref, spec.stable),
        },
      ),
      weight,
    })),
    ...entries.filter((d) => !named(d)).map((d) => ({ ...structuredClone(d), weight: 0 })),
  ];
  const mirrorDestination = destinationFor(owned, target.mirror.ref, spec.stable);
  if (target.mirror.percent > 0) {
    next.mirror = { ...mirrorDestination };
    next.mirrorPercentage = { value: target.mirror.percent };
  } else if (owned.mirror && isDestinationOf(owned.mirror, target.mirror.ref)) {
    // Only weir's own mirror goes; a mirror someone else set stays.
    delete next.mirror;
    delete next.mirrorPercentage;
  }
  setStickyCookies(next, target);
  const headerName = headerRouteName(spec);
  const stickyPrefix = stickyRouteName(spec.virtualService.route, '');
  const rest = http
    .filter((r) => r.name !== headerName && !r.name?.startsWith(stickyPrefix))
    .map((r) => (r === owned ? next : r));
  // Users stuck to a version by its cookie go to it, before the weighted route (and after a cohort).
  for (const ref of target.sticky?.versions ?? [])
    rest.splice(rest.indexOf(next), 0, {
      name: stickyRouteName(spec.virtualService.route, ref.version),
      match: [{ headers: { cookie: { regex: stickyCookieRegex(target.sticky!.cookie, ref.version) } } }],
      route: [{ destination: destinationFor(owned, ref, spec.stable), weight: 100 }],
    });
  const headers = spec.strategy.headerRoute?.headers;
  const canaryWeight = target.weights.find((w) => w.ref === spec.canary)?.weight ?? 0;
  if (headers && canaryWeight > 0 && canaryWeight < 100) {
    const headerRoute: IstioHttpRoute = {
      name: headerName,
      match: [{ headers: structuredClone(headers) }],
      route: [{ destination: destinationFor(owned, spec.canary, spec.stable), weight: 100 }],
    };
    rest.splice(rest.indexOf(next), 0, headerRoute);
  }
  return rest;
}

/** weir's own Set-Cookie on a destination: `name=value; Max-Age=N; Path=/`, as stickyCookieValue writes it. */
const WEIR_COOKIE = /^[A-Za-z0-9_-]{1,64}=[^;]+; Max-Age=\d+; Path=\/$/;

/**
 * The owned route's destinations with sticky cookies as `target` calls for: a
 * sticky version's responses set its cookie (Envoy's response header add on
 * the route destination); any other destination loses a cookie weir set before.
 */
function setStickyCookies(route: IstioHttpRoute, target: RouteTarget): void {
  for (const entry of route.route ?? []) {
    const sticky = target.sticky?.versions.find((ref) => isDestinationOf(entry.destination, ref));
    const headers = (entry.headers ?? {}) as { response?: { add?: Record<string, string>; [k: string]: unknown } };
    const add = { ...headers.response?.add };
    if (sticky) add['Set-Cookie'] = stickyCookieValue(target.sticky!, sticky.version);
    else if (WEIR_COOKIE.test(add['Set-Cookie'] ?? '')) delete add['Set-Cookie'];
    else continue;
    const response = { ...headers.response, add };
    if (Object.keys(add).length === 0) delete (response as { add?: unknown }).add;
    const next = { ...headers, response };
    if (Object.keys(response).length === 0) delete (next as { response?: unknown }).response;
    if (Object.keys(next).length === 0) delete entry.headers;
    else entry.headers = next;
  }
}

/** Hosts and subsets the rollout sends traffic to, to check against DestinationRules. */
export function subsetsNeeded(
  route: IstioHttpRoute,
  spec: ModelRolloutSpec,
): { host: string; subset: string; version: string }[] {
  return routedVersions(spec)
    .map((ref) => ({ destination: destinationFor(route, ref, spec.stable), version: ref.version }))
    .filter((d) => d.destination.subset !== undefined)
    .map((d) => ({ host: d.destination.host, subset: d.destination.subset!, version: d.version }));
}

/** Istio's host matching for a DestinationRule: short names resolve in the rule's namespace. */
export function sameHost(a: string, b: string, namespace: string): boolean {
  const full = (h: string) => (h.includes('.') ? h : `${h}.${namespace}.svc.cluster.local`);
  return full(a) === full(b);
}
