// Makes the local gateway follow a VirtualService in a Kubernetes API server,
// playing Envoy's part in tests of Kubernetes mode. The list-then-watch,
// reconnects and 410 Gone handling are the shared Informer's; this applies what
// it sees. A VirtualService that does not validate, or is deleted, leaves the
// last good routes in place.
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../../../../shared/log.js';
import { Informer, type Listed } from '../../providers/kube/informer.js';
import { parseRouteTable } from './routes.js';
import type { Gateway } from './server.js';
import { UsageError } from '../../../../shared/errors.js';

const GROUP = 'networking.istio.io';
const VERSION = 'v1beta1';
const PLURAL = 'virtualservices';

export interface WatchTarget {
  namespace: string;
  name: string;
}

interface VirtualService {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
  spec?: unknown;
}

/** Keeps the gateway's table equal to a VirtualService in a Kubernetes API server (what Envoy does in a mesh). */
export class VirtualServiceWatcher {
  private readonly informer: Informer<VirtualService>;
  /** Updates applied, and updates refused because they did not validate. */
  readonly counts = { applied: 0, rejected: 0 };

  constructor(
    private readonly gateway: Gateway,
    kubeconfig: KubeConfig,
    private readonly target: WatchTarget,
    private readonly log: Logger,
  ) {
    const api = kubeconfig.makeApiClient(CustomObjectsApi);
    const fieldSelector = `metadata.name=${target.name}`;
    this.informer = new Informer<VirtualService>({
      kubeconfig,
      path: `/apis/${GROUP}/${VERSION}/namespaces/${target.namespace}/${PLURAL}`,
      list: async () =>
        (await api.listNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace: target.namespace,
          plural: PLURAL,
          fieldSelector,
        })) as Listed<VirtualService>,
      fieldSelector,
      log,
      onEvent: (phase, object) => {
        if (phase === 'DELETED')
          this.log.warn('VirtualService deleted; keeping the last good routes', { ...this.target });
        else this.apply(object);
      },
    });
  }

  /** Resolves after the VirtualService was listed and applied; keeps watching afterwards. */
  async start(): Promise<void> {
    await this.informer.start();
    if (this.counts.applied + this.counts.rejected === 0) {
      this.informer.stop();
      throw new UsageError(`VirtualService ${this.target.namespace}/${this.target.name} does not exist`);
    }
  }

  stop(): void {
    this.informer.stop();
  }

  private apply(object: VirtualService): void {
    try {
      this.gateway.setRoutes(parseRouteTable(object.spec));
      this.counts.applied++;
    } catch (err) {
      this.counts.rejected++;
      this.log.warn('VirtualService does not validate; keeping the last good routes', {
        ...this.target,
        resourceVersion: object.metadata?.resourceVersion,
        err,
      });
    }
  }
}
