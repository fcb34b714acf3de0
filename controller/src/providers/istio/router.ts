// TrafficRouter on Istio: reads the VirtualService the rollout names, rewrites
// only what weir owns in it (see routes.ts), and patches it back with the
// resourceVersion it read. A 409 means someone else changed it in between: read
// again and reapply, so their change survives. DestinationRule subsets are
// checked before any write; a missing VirtualService, route, destination or
// subset is a RouteConfigError (a status condition and an Event), not a crash.
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import type { ModelRollout } from '../../api/schema.js';
import type { RouteTarget } from '../../engine/route.js';
import type { AppliedStep } from '../../engine/types.js';
import type { Logger } from '../../../../shared/log.js';
import { isConflict, isNotFound, kubeCall } from '../kube/client.js';
import { ScopedInformers, type Listed } from '../kube/informer.js';
import { ConflictError, RouteConfigError, type RouteState, type TrafficRouter } from '../types.js';
import {
  APPLIED_STEPS_ANNOTATION,
  appliedStepOf,
  ownedRoute,
  rewriteRoutes,
  sameHost,
  subsetsNeeded,
  weightsOfRoute,
  withAppliedStep,
  type IstioHttpRoute,
} from './routes.js';

const GROUP = 'networking.istio.io';
const VERSION = 'v1beta1';
const CONFLICT_RETRIES = 8;

interface VirtualService {
  metadata: {
    name: string;
    namespace: string;
    resourceVersion?: string;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  spec: { http?: IstioHttpRoute[]; [key: string]: unknown };
  [key: string]: unknown;
}

interface DestinationRule {
  metadata: { name: string; namespace?: string; resourceVersion?: string };
  spec?: { host?: string; subsets?: { name: string }[] };
}

export interface IstioRouterOptions {
  fieldManager?: string;
  /** Called after each successful VirtualService write (for metrics). */
  onWrite?: (rollout: ModelRollout, attempts: number) => void;
  /** A watch cache of DestinationRules; without one (or before it has listed), each check lists the namespace's. */
  destinationRules?: DestinationRuleCache;
}

/**
 * DestinationRules kept current by list+watch, in the namespaces the controller
 * watches (or all). Checking subsets by listing a namespace's rules on every
 * reconcile made each round cost O(rollouts²) objects read: 1,000 rollouts with
 * 1,000 rules in one namespace meant a million rules parsed per interval.
 */
export class DestinationRuleCache {
  private readonly cache: ScopedInformers<DestinationRule>;
  /** The rules by namespace, rebuilt on the first read after a change: reconciles read far more often than rules change. */
  private byNamespace: Map<string, DestinationRule[]> | undefined;

  constructor(kubeconfig: KubeConfig, options: { namespaces?: string[]; log: Logger; resyncMs?: number }) {
    const api = kubeconfig.makeApiClient(CustomObjectsApi);
    const ref = { group: GROUP, version: VERSION, plural: 'destinationrules' };
    this.cache = new ScopedInformers<DestinationRule>({
      kubeconfig,
      ...ref,
      namespaces: options.namespaces,
      list: async (namespace) =>
        (await kubeCall(`list destinationrules${namespace ? ` in ${namespace}` : ' in all namespaces'}`, () =>
          namespace ? api.listNamespacedCustomObject({ ...ref, namespace }) : api.listClusterCustomObject(ref),
        )) as Listed<DestinationRule>,
      log: options.log,
      resyncMs: options.resyncMs,
      onChange: () => (this.byNamespace = undefined),
    });
  }

  start(): Promise<void> {
    return this.cache.start();
  }

  stop(): void {
    this.cache.stop();
  }

  get synced(): boolean {
    return this.cache.synced;
  }

  /** The namespace's rules as last seen, or undefined while the cache has not listed. */
  rulesIn(namespace: string): DestinationRule[] | undefined {
    if (!this.synced) return undefined;
    if (!this.byNamespace) {
      this.byNamespace = new Map();
      for (const rule of this.cache.values()) {
        const ns = rule.metadata.namespace ?? '';
        const rules = this.byNamespace.get(ns);
        if (rules) rules.push(rule);
        else this.byNamespace.set(ns, [rule]);
      }
    }
    return this.byNamespace.get(namespace) ?? [];
  }
}

/** Why the rules do not route every needed subset (the first one missing), or undefined when they do. */
function missingSubset(
  rules: DestinationRule[],
  needed: { host: string; subset: string; version: string }[],
  namespace: string,
): RouteConfigError | undefined {
  for (const { host, subset, version } of needed) {
    const forHost = rules.filter((r) => r.spec?.host && sameHost(r.spec.host, host, namespace));
    if (forHost.length === 0)
      return new RouteConfigError(
        'DestinationRuleNotFound',
        `no DestinationRule in ${namespace} for host ${host}; version ${version} routes to its subset "${subset}"`,
      );
    if (!forHost.some((r) => r.spec?.subsets?.some((s) => s.name === subset)))
      return new RouteConfigError(
        'SubsetNotFound',
        `DestinationRule ${forHost.map((r) => r.metadata.name).join(', ')} for host ${host} has no subset "${subset}" (version ${version}); add it with labels {version: ${version}}`,
      );
  }
  return undefined;
}

/** A TrafficRouter on Istio VirtualServices (see the module comment). */
export class IstioRouter implements TrafficRouter {
  private readonly api: CustomObjectsApi;
  /** The VirtualService getRoutes just read and checked, per rollout: setRoutes patches it with one call. */
  private readonly checked = new Map<string, VirtualService>();
  readonly counts = { writes: 0, conflicts: 0 };

  constructor(
    kubeconfig: KubeConfig,
    private readonly options: IstioRouterOptions = {},
  ) {
    this.api = kubeconfig.makeApiClient(CustomObjectsApi);
  }

  private ref(rollout: ModelRollout) {
    return {
      group: GROUP,
      version: VERSION,
      plural: 'virtualservices',
      namespace: rollout.metadata.namespace ?? 'default',
      name: rollout.spec.virtualService.name,
    };
  }

  private async read(rollout: ModelRollout): Promise<VirtualService> {
    const ref = this.ref(rollout);
    try {
      return (await this.api.getNamespacedCustomObject(ref)) as VirtualService;
    } catch (err) {
      if (isNotFound(err))
        throw new RouteConfigError(
          'VirtualServiceNotFound',
          `VirtualService ${ref.namespace}/${ref.name} does not exist; create it or fix spec.virtualService.name`,
        );
      return kubeCall(`get virtualservice ${ref.namespace}/${ref.name}`, () => Promise.reject(err));
    }
  }

  /** Every subset the rollout routes to must exist in a DestinationRule for its host. */
  private async checkSubsets(rollout: ModelRollout, route: IstioHttpRoute): Promise<void> {
    const needed = subsetsNeeded(route, rollout.spec);
    if (needed.length === 0) return;
    const namespace = rollout.metadata.namespace ?? 'default';
    const cached = this.options.destinationRules?.rulesIn(namespace);
    // The cache may lag a rule just created: a subset it lacks is looked up on the server before it counts as missing.
    if (cached && !missingSubset(cached, needed, namespace)) return;
    const listed = (await kubeCall(`list destinationrules in ${namespace}`, () =>
      this.api.listNamespacedCustomObject({ group: GROUP, version: VERSION, plural: 'destinationrules', namespace }),
    )) as { items: DestinationRule[] };
    const missing = missingSubset(listed.items, needed, namespace);
    if (missing) throw missing;
  }

  private key(rollout: ModelRollout): string {
    return `${rollout.metadata.namespace ?? 'default'}/${rollout.metadata.name}`;
  }

  async getRoutes(rollout: ModelRollout): Promise<RouteState> {
    this.checked.delete(this.key(rollout));
    const vs = await this.read(rollout);
    const route = ownedRoute(vs.spec?.http, rollout.spec, `${vs.metadata.namespace}/${vs.metadata.name}`);
    await this.checkSubsets(rollout, route);
    this.checked.set(this.key(rollout), vs);
    const step = appliedStepOf(vs.metadata.annotations, rollout.metadata.name);
    return {
      ...weightsOfRoute(route, rollout.spec),
      ...(step && (step.rollout === undefined || step.rollout === this.key(rollout)) ? { step } : {}),
    };
  }

  async setRoutes(rollout: ModelRollout, target: RouteTarget, step: AppliedStep): Promise<void> {
    const ref = this.ref(rollout);
    // The copy getRoutes read moments ago saves a read; if the VirtualService changed
    // since, the patch gets 409 and the next attempt reads it fresh.
    let vs = this.checked.get(this.key(rollout));
    this.checked.delete(this.key(rollout));
    // The step record this decision was made against. If another writer (a new leader, after this
    // replica lost the Lease mid-round) recorded another step since, reapplying would overwrite its
    // decision, perhaps a rollback: that is a conflict for the caller to read again and decide again.
    const known = vs !== undefined;
    const seen = vs ? appliedStepOf(vs.metadata.annotations, rollout.metadata.name)?.stepId : undefined;
    for (let attempt = 1; ; attempt++) {
      const fresh = !vs;
      vs ??= await this.read(rollout);
      const http = rewriteRoutes(vs.spec?.http ?? [], rollout.spec, `${ref.namespace}/${ref.name}`, target);
      if (fresh && attempt === 1)
        await this.checkSubsets(rollout, ownedRoute(http, rollout.spec, `${ref.namespace}/${ref.name}`));
      try {
        // A merge patch of spec.http, and of weir's step record beside it, that carries the
        // resourceVersion read: the API server applies it only if nobody wrote in between (409 otherwise).
        const annotations = {
          [APPLIED_STEPS_ANNOTATION]: withAppliedStep(vs.metadata.annotations, rollout.metadata.name, {
            ...step,
            rollout: this.key(rollout),
          }),
        };
        const body = { metadata: { resourceVersion: vs.metadata.resourceVersion, annotations }, spec: { http } };
        await this.api.patchNamespacedCustomObject(
          { ...ref, body, ...(this.options.fieldManager ? { fieldManager: this.options.fieldManager } : {}) },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
        this.counts.writes++;
        this.options.onWrite?.(rollout, attempt);
        return;
      } catch (err) {
        if (isConflict(err) && attempt < CONFLICT_RETRIES) {
          this.counts.conflicts++;
          vs = await this.read(rollout);
          const now = appliedStepOf(vs.metadata.annotations, rollout.metadata.name)?.stepId;
          if (known && now !== seen)
            throw new ConflictError(
              `VirtualService ${ref.namespace}/${ref.name} now carries step ${now ?? '(none)'} for ${rollout.metadata.name}, not ${seen}: another writer decided since; read again`,
            );
          continue;
        }
        return kubeCall(`patch virtualservice ${ref.namespace}/${ref.name}`, () => Promise.reject(err));
      }
    }
  }
}
