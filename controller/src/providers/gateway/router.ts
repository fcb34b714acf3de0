// TrafficRouter over the local gateway's admin API: it rewrites the weights of
// the route the rollout owns, and nothing else, and keeps the step record
// beside them (the gateway's stand-in for weir's VirtualService annotation).
import type { ModelRollout } from '../../api/schema.js';
import { boundedStep, parseAppliedStep } from '../../engine/applied-step.js';
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

  async setRoutes(
    rollout: ModelRollout,
    canaryWeight: number,
    mirrorPercent: number,
    step: AppliedStep,
  ): Promise<void> {
    const { spec } = rollout;
    const weights = {
      [spec.stable.subset ?? spec.stable.version]: 100 - canaryWeight,
      [spec.canary.subset ?? spec.canary.version]: canaryWeight,
    };
    await this.call(rollout, {
      method: 'PUT',
      body: JSON.stringify({
        weights,
        mirror: { subset: spec.canary.subset ?? spec.canary.version, percent: mirrorPercent },
        step: boundedStep({ ...step, rollout: identity(rollout) }),
      }),
    });
  }

  async getRoutes(rollout: ModelRollout): Promise<RouteState> {
    const { spec } = rollout;
    const reply = await this.call(rollout);
    const canary = spec.canary.subset ?? spec.canary.version;
    // The route may have been another rollout's before: only this rollout's own record counts.
    const recorded = parseAppliedStep(reply.step);
    const step = recorded?.rollout === identity(rollout) ? recorded : undefined;
    const weightOf = (name: string) => (Object.hasOwn(reply.weights ?? {}, name) ? Number(reply.weights[name]) : 0);
    return {
      stable: weightOf(spec.stable.subset ?? spec.stable.version),
      canary: weightOf(canary),
      mirrorPercent: reply.mirror?.subset === canary ? reply.mirror.percent : 0,
      ...(step ? { step } : {}),
    };
  }
}

/** How a rollout is named in step records: namespace/name. */
function identity(rollout: ModelRollout): string {
  return `${rollout.metadata.namespace ?? 'local'}/${rollout.metadata.name}`;
}
