// core/v1 Events about ModelRollouts, as `kubectl describe` shows them.
import { randomBytes } from 'node:crypto';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../../../../shared/log.js';
import type { ModelRollout } from '../../api/schema.js';
import type { EventRecorder } from '../types.js';
import { kubeFailure } from './client.js';

const COMPONENT = 'weir-controller';
const MESSAGE_LIMIT = 1024;

/** An EventRecorder writing core/v1 Events about ModelRollouts. */
export class KubeEvents implements EventRecorder {
  private readonly api: CoreV1Api;

  constructor(
    kubeconfig: KubeConfig,
    private readonly instance: string,
    private readonly log: Logger,
  ) {
    this.api = kubeconfig.makeApiClient(CoreV1Api);
  }

  /** Records one Event; a failure is logged, never thrown (Events are best effort). */
  async record(
    rollout: Pick<ModelRollout, 'apiVersion' | 'kind' | 'metadata'>,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
  ): Promise<void> {
    const {
      name,
      namespace = 'default',
      uid,
      resourceVersion,
    } = rollout.metadata as { name: string; namespace?: string; uid?: string; resourceVersion?: string };
    const now = new Date();
    try {
      await this.api.createNamespacedEvent({
        namespace,
        body: {
          metadata: { name: `${name}.${now.getTime().toString(16)}${randomBytes(2).toString('hex')}`, namespace },
          involvedObject: {
            apiVersion: rollout.apiVersion,
            kind: rollout.kind,
            name,
            namespace,
            ...(uid ? { uid } : {}),
            ...(resourceVersion ? { resourceVersion } : {}),
          },
          type,
          reason,
          message: message.length > MESSAGE_LIMIT ? `${message.slice(0, MESSAGE_LIMIT - 1)}…` : message,
          source: { component: COMPONENT },
          reportingComponent: `weir.dev/${COMPONENT}`,
          reportingInstance: this.instance,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      });
    } catch (err) {
      this.log.warn('cannot record Event', { rollout: `${namespace}/${name}`, reason, err: kubeFailure(err).message });
    }
  }
}
