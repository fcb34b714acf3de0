// TrafficRouter over the local gateway's admin API: it rewrites the weights of
// the route the rollout owns, and nothing else, and keeps the step record
// beside them (the gateway's stand-in for weir's VirtualService annotation).
import type { ModelRollout } from '../../api/schema.js';
import { boundedStep, parseAppliedStep } from '../../engine/applied-step.js';
import { routedVersions, type RouteTarget } from '../../engine/route.js';
import type { AppliedStep } from '../../engine/types.js';
import { RouteConfigError, type RouteState, type TrafficRouter } from '../types.js';

interface RouteReply {
  route: string;
  weights: Record<string, number>;
  mirror?: { subset: string; percent: number };
  step?: unknown;
}

/** A TrafficRouter over the local gateway's admin API. */
export class GatewayRouter implements TrafficRouter {
  constructor(
    private readonly adminUrl: string,
    private readonly token: string,
  ) {}

  private async call(rollout: ModelRollout, init: RequestInit = {}): Promise<RouteReply> {
    const route = rollout.spec.virtualService.route;
    const path = `/routes/${encodeURIComponent(route)}/weights`;
    const response = await fetch(`${this.adminUrl}${path}`, {
      ...init,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token}` },
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await response.json().catch(() => ({}))) as RouteReply & { error?: string };
    if (response.status === 404)
      throw new RouteConfigError(
        'RouteNotFound',
        `the gateway has no route named "${route}": ${body.error ?? 'not found'}`,
      );
    if (!response.ok)
      throw new Error(`gateway ${init.method ?? 'GET'} ${path}: HTTP ${response.status}: ${body.error ?? 'no detail'}`);
    return body;
  }

  async setRoutes(rollout: ModelRollout, target: RouteTarget, step: AppliedStep): Promise<void> {
    const { spec } = rollout;
    // strategy.headerRoute's cohort goes to the canary while traffic is split, as the Istio router does it.
    const headers = spec.strategy.headerRoute?.headers;
    const canaryWeight = target.weights.find((w) => w.ref === spec.canary)?.weight ?? 0;
    const cohort =
      headers && canaryWeight > 0 && canaryWeight < 100 ? { headers, subset: subsetOf(spec.canary) } : undefined;
    await this.call(rollout, {
      method: 'PUT',
      body: JSON.stringify({
        weights: Object.fromEntries(target.weights.map(({ ref, weight }) => [subsetOf(ref), weight])),
        mirror: { subset: subsetOf(target.mirror.ref), percent: target.mirror.percent },
        ...(cohort ? { cohort } : {}),
        ...(target.sticky
          ? {
              sticky: {
                cookie: target.sticky.cookie,
                maxAgeSeconds: target.sticky.maxAgeSeconds,
                subsets: target.sticky.versions.map(subsetOf),
              },
            }
          : {}),
        step: boundedStep({ ...step, rollout: identity(rollout) }),
      }),
    });
  }

  async getRoutes(rollout: ModelRollout): Promise<RouteState> {
    const reply = await this.call(rollout);
    // The route may have been another rollout's before: only this rollout's own record counts.
    const recorded = parseAppliedStep(reply.step);
    const step = recorded?.rollout === identity(rollout) ? recorded : undefined;
    const weightOf = (name: string) => (Object.hasOwn(reply.weights ?? {}, name) ? Number(reply.weights[name]) : 0);
    return {
      weights: routedVersions(rollout.spec).map((ref) => weightOf(subsetOf(ref))),
      mirrorPercent: reply.mirror?.subset === subsetOf(rollout.spec.canary) ? reply.mirror.percent : 0,
      ...(step ? { step } : {}),
    };
  }
}

/** The gateway's name for a version's destination: its subset, or its version. */
const subsetOf = (ref: ModelRollout['spec']['stable']) => ref.subset ?? ref.version;

/** How a rollout is named in step records: namespace/name. */
function identity(rollout: ModelRollout): string {
  return `${rollout.metadata.namespace ?? 'local'}/${rollout.metadata.name}`;
}
