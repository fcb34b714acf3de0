// Leader election on a coordination.k8s.io/v1 Lease, with client-go's rules:
// a candidate takes the Lease only when its holder has not renewed it for a
// whole lease duration, measured on the candidate's own clock from when it
// first saw that renewal (so clock skew between replicas does not matter); a
// leader that cannot renew within the renew deadline stops acting; every write
// carries the resourceVersion it read, so two candidates never both win.
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from '../../../../shared/log.js';
import { isConflict, isNotFound, kubeFailure } from './client.js';
import { UsageError } from '../../../../shared/errors.js';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  /** This replica's identity (pod name). */
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  log: Logger;
  onStartedLeading?: () => void;
  onStoppedLeading?: () => void;
}

/** Lease times are MicroTime (six fractional digits); a Date read back must be written as one. */
function micro(spec: NonNullable<V1Lease['spec']>): NonNullable<V1Lease['spec']> {
  return {
    ...spec,
    ...(spec.acquireTime ? { acquireTime: new V1MicroTime(spec.acquireTime) } : {}),
    ...(spec.renewTime ? { renewTime: new V1MicroTime(spec.renewTime) } : {}),
  };
}

/** Leader election on a coordination.k8s.io Lease, with client-go's timing rules. */
export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private readonly leaseMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryMs: number;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private leading = false;
  private lastRenewed = 0;
  /** The other holder's record as last seen, and when (our clock). */
  private observed: { record: string; at: number; durationMs: number } | undefined;
  private cycle: Promise<void> | undefined;

  constructor(
    kubeconfig: KubeConfig,
    private readonly options: LeaderElectionOptions,
  ) {
    this.api = kubeconfig.makeApiClient(CoordinationV1Api);
    this.leaseMs = options.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? Math.round((this.leaseMs * 2) / 3);
    this.retryMs = options.retryPeriodMs ?? Math.round(this.leaseMs / 7.5);
    if (!(this.retryMs < this.renewDeadlineMs && this.renewDeadlineMs < this.leaseMs)) {
      throw new UsageError(
        `leader election: need retry period (${this.retryMs} ms) < renew deadline (${this.renewDeadlineMs} ms) < lease duration (${this.leaseMs} ms)`,
      );
    }
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    const tick = () => {
      this.cycle = this.attempt().finally(() => {
        if (!this.stopped) this.timer = setTimeout(tick, this.nextDelay());
      });
    };
    tick();
  }

  /** Stops campaigning; a leader gives the Lease up so a standby takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.cycle;
    if (!this.leading) return;
    this.setLeading(false);
    try {
      const lease = await this.api.readNamespacedLease({ name: this.options.name, namespace: this.options.namespace });
      if (lease.spec?.holderIdentity !== this.options.identity) return;
      lease.spec = micro({ ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: new V1MicroTime() });
      await this.api.replaceNamespacedLease({
        name: this.options.name,
        namespace: this.options.namespace,
        body: lease,
      });
      this.options.log.info('released the leader lease', { lease: this.leaseName() });
    } catch (err) {
      this.options.log.warn('cannot release the leader lease; a standby takes over when it expires', {
        lease: this.leaseName(),
        err: kubeFailure(err).message,
      });
    }
  }

  private leaseName(): string {
    return `${this.options.namespace}/${this.options.name}`;
  }

  private setLeading(leading: boolean): void {
    if (leading === this.leading) return;
    this.leading = leading;
    if (leading) {
      this.options.log.info('became the leader', { lease: this.leaseName(), identity: this.options.identity });
      this.options.onStartedLeading?.();
    } else {
      this.options.log.warn('no longer the leader', { lease: this.leaseName(), identity: this.options.identity });
      this.options.onStoppedLeading?.();
    }
  }

  /** The retry period; or sooner, exactly when the other holder's lease runs out. */
  private nextDelay(): number {
    if (this.leading || !this.observed) return this.retryMs;
    const left = this.observed.at + this.observed.durationMs - Date.now();
    return left > 0 && left < this.retryMs ? left + 1 : this.retryMs;
  }

  private async attempt(): Promise<void> {
    let held = false;
    try {
      held = await this.tryAcquireOrRenew();
    } catch (err) {
      this.options.log.warn('leader election: cannot read or write the Lease', {
        lease: this.leaseName(),
        err: kubeFailure(err).message,
      });
    }
    const now = Date.now();
    if (held) {
      this.lastRenewed = now;
      this.setLeading(true);
    } else if (this.leading && now - this.lastRenewed > this.renewDeadlineMs) {
      this.setLeading(false);
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity } = this.options;
    const now = new V1MicroTime();
    const spec = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(this.leaseMs / 1000),
      acquireTime: now,
      renewTime: now,
      leaseTransitions: 0,
    };
    let lease: V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      try {
        await this.api.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec } });
        return true;
      } catch (createErr) {
        if (isConflict(createErr)) return false; // another replica created it first
        throw createErr;
      }
    }
    const holder = lease.spec?.holderIdentity ?? '';
    if (holder && holder !== identity) {
      const record = `${holder}|${lease.spec?.renewTime ? new Date(lease.spec.renewTime).getTime() : ''}|${lease.metadata?.resourceVersion}`;
      const durationMs = (lease.spec?.leaseDurationSeconds ?? Math.ceil(this.leaseMs / 1000)) * 1000;
      if (this.observed?.record !== record) this.observed = { record, at: Date.now(), durationMs };
      if (Date.now() - this.observed.at < durationMs) return false;
    }
    const transitions = lease.spec?.leaseTransitions ?? 0;
    lease.spec = micro(
      holder === identity
        ? { ...lease.spec, leaseDurationSeconds: spec.leaseDurationSeconds, renewTime: now }
        : { ...spec, leaseTransitions: transitions + 1 },
    );
    try {
      await this.api.replaceNamespacedLease({ name, namespace, body: lease });
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }
}
