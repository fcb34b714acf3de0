// TrafficRouter over the local gateway's admin API: it rewrites the weights of
// the route the rollout owns, and nothing else.
import type { ModelRollout } from '../../api/schema.js';
import { RouteConfigError, type TrafficRouter } from '../types.js';

export class GatewayRouter implements TrafficRouter {
  constructor(
    private readonly adminUrl: string,
    private readonly token: string,
  ) {}

  private async call(path: string, init: RequestInit = {}): Promise<unknown> {
    const response = await fetch(`${this.adminUrl}${path}`, { ...init, headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token}` } });
    const body = (await response.json().catch(() => ({}))) as { error?: string };
    if (!response.ok) throw new Error(`gateway ${init.method ?? 'GET'} ${path}: HTTP ${response.status}: ${body.error ?? 'no detail'}`);
    return body;
  }

  async setRoutes(rollout: ModelRollout, canaryWeight: number, mirrorPercent: number): Promise<void> {
    const { spec } = rollout;
    const weights = { [spec.stable.subset ?? spec.stable.version]: 100 - canaryWeight, [spec.canary.subset ?? spec.canary.version]: canaryWeight };
    await this.call(`/routes/${encodeURIComponent(spec.virtualService.route)}/weights`, {
      method: 'PUT',
      body: JSON.stringify({ weights, mirror: { subset: spec.canary.subset ?? spec.canary.version, percent: mirrorPercent } }),
    });
  }

  async getRoutes(rollout: ModelRollout): Promise<{ stable: number; canary: number }> {
    const { spec } = rollout;
    const table = (await this.call('/routes')) as { http: { name?: string; route: { destination: { subset?: string; host: string }; weight?: number }[] }[] };
    const route = table.http.find((r) => r.name === spec.virtualService.route);
    if (!route) throw new RouteConfigError('RouteNotFound', `the gateway has no route named "${spec.virtualService.route}" (routes: ${table.http.map((r) => r.name ?? '(unnamed)').join(', ')})`);
    const weightOf = (subset: string) => route.route.find((d) => (d.destination.subset ?? d.destination.host) === subset)?.weight ?? 0;
    return { stable: weightOf(spec.stable.subset ?? spec.stable.version), canary: weightOf(spec.canary.subset ?? spec.canary.version) };
  }
}
