// Makes the local gateway follow a VirtualService in a Kubernetes API server,
// playing Envoy's part in tests of Kubernetes mode: get it, apply it, watch it
// from that resourceVersion; after a dropped watch or 410 Gone, get it again.
// A VirtualService that does not validate leaves the last good routes in place.
import { CustomObjectsApi, KubeConfig, Watch } from '@kubernetes/client-node';
import type { Logger } from '../../../../predictor/src/log.js';
import { parseRouteTable } from './routes.js';
import type { Gateway } from './server.js';

const GROUP = 'networking.istio.io';
const VERSION = 'v1beta1';
const PLURAL = 'virtualservices';

export interface WatchTarget {
  namespace: string;
  name: string;
}

export class VirtualServiceWatcher {
  private abort: AbortController | undefined;
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;
  /** Updates applied, and updates refused because they did not validate. */
  readonly counts = { applied: 0, rejected: 0 };

  constructor(
    private readonly gateway: Gateway,
    private readonly kubeconfig: KubeConfig,
    private readonly target: WatchTarget,
    private readonly log: Logger,
  ) {}

  /** Resolves after the first successful get and apply; keeps watching afterwards. */
  async start(): Promise<void> {
    const resourceVersion = await this.getAndApply();
    await this.watchFrom(resourceVersion);
  }

  stop(): void {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    this.abort?.abort();
  }

  private apply(object: { metadata?: { resourceVersion?: string }; spec?: unknown }): void {
    try {
      this.gateway.setRoutes(parseRouteTable(object.spec));
      this.counts.applied++;
    } catch (err) {
      this.counts.rejected++;
      this.log.warn('VirtualService does not validate; keeping the last good routes', { ...this.target, resourceVersion: object.metadata?.resourceVersion, err });
    }
  }

  private async getAndApply(): Promise<string> {
    const api = this.kubeconfig.makeApiClient(CustomObjectsApi);
    const object = (await api.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: this.target.namespace, plural: PLURAL, name: this.target.name })) as { metadata: { resourceVersion: string }; spec: unknown };
    this.apply(object);
    return object.metadata.resourceVersion;
  }

  private async watchFrom(resourceVersion: string): Promise<void> {
    const path = `/apis/${GROUP}/${VERSION}/namespaces/${this.target.namespace}/${PLURAL}`;
    this.abort = await new Watch(this.kubeconfig).watch(
      path,
      { fieldSelector: `metadata.name=${this.target.name}`, resourceVersion, allowWatchBookmarks: true },
      (phase, object: { metadata?: { resourceVersion?: string }; spec?: unknown; code?: number }) => {
        if (phase === 'ADDED' || phase === 'MODIFIED') this.apply(object);
        else if (phase === 'DELETED') this.log.warn('VirtualService deleted; keeping the last good routes', { ...this.target });
        else if (phase === 'ERROR' && object.code === 410) this.abort?.abort(); // Gone: start over from a fresh get
      },
      (err: unknown) => this.reconnect(err),
    );
  }

  private reconnect(err: unknown): void {
    if (this.stopped) return;
    // client-node ends a watch after 30 s without data (TimeoutError): normal for a quiet VirtualService.
    if (err && (err as { name?: string }).name !== 'TimeoutError') this.log.warn('VirtualService watch ended; getting it again', { ...this.target, err: err instanceof Error ? err.message : String(err) });
    this.retry = setTimeout(() => {
      void this.getAndApply()
        .then((rv) => this.watchFrom(rv))
        .catch((e: unknown) => this.reconnect(e));
    }, 500);
  }
}

export function kubeconfigFrom(file: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (file) kc.loadFromFile(file);
  else kc.loadFromDefault();
  return kc;
}
