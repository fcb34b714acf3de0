// Notifier over Alertmanager's v2 API. Each reconcile tells it where a rollout
// stands; it keeps one alert per condition (awaiting approval, rolled back,
// Prometheus unreachable) firing while the condition holds and resolves it
// (endsAt = now) when it ends, and sends one-shot alerts for stage advances,
// promotions and inconclusive endings. Alerts go through a bounded buffer,
// keyed by alert identity so a newer state replaces an older one: while
// Alertmanager is down nothing within the bound is lost, and delivery retries
// with exponential backoff.
import { backoffMs } from '../../../../shared/retry.js';
import type { Notifier, RolloutEvent } from '../types.js';

export interface AlertmanagerAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt?: string;
}

export interface AlertmanagerOptions {
  /** Alerts kept for delivery while Alertmanager is unreachable. */
  maxBuffered?: number;
  /** Firing alerts are sent again this often, so Alertmanager does not time them out. */
  refreshMs?: number;
  /** How long a firing alert stays valid without a refresh (Alertmanager resolves it after). */
  validForMs?: number;
  /** How long one-shot alerts (stage advanced, promoted) stay firing. */
  oneShotMs?: number;
  now?: () => number;
  fetch?: typeof fetch;
}

type Severity = 'critical' | 'warning' | 'info';

interface Wanted {
  alertname: string;
  severity: Severity;
  summary: string;
  action?: string;
  oneShot?: boolean;
}

const MAX_BACKOFF_MS = 30_000;

/** A Notifier over Alertmanager's v2 API (see the module comment). */
export class AlertmanagerNotifier implements Notifier {
  /** Firing condition alerts per rollout: identity → alert and when it was last sent. */
  private readonly active = new Map<string, { alert: AlertmanagerAlert; sentAt: number }>();
  /** Waiting for delivery, newest state per identity, oldest first. */
  private readonly buffer = new Map<string, AlertmanagerAlert>();
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private flushing: Promise<void> | undefined;
  readonly counts = { sent: 0, failedPosts: 0, dropped: 0, resolved: 0 };

  constructor(
    private readonly url: string,
    private readonly namespace = 'local',
    private readonly options: AlertmanagerOptions = {},
  ) {}

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  /** Alerts not yet delivered. */
  get pending(): number {
    return this.buffer.size;
  }

  async notify(event: RolloutEvent): Promise<void> {
    const { rollout, status } = event;
    const name = rollout.metadata.name;
    const namespace = rollout.metadata.namespace ?? this.namespace;
    const ref = namespace === 'local' ? name : `${name} -n ${namespace}`;
    const wanted: Wanted[] = [];
    if (status.phase === 'AwaitingApproval')
      wanted.push({
        alertname: 'WeirRolloutAwaitingApproval',
        severity: 'warning',
        summary: event.summary,
        action: `weir approve ${ref} (or weir abort ${ref})`,
      });
    if (status.phase === 'RolledBack')
      wanted.push({
        alertname: 'WeirCanaryRolledBack',
        severity: 'critical',
        summary: event.summary,
        action: `weir status ${ref}; after a fix, weir retry ${ref}`,
      });
    if (event.routeWriteFailure)
      wanted.push({
        alertname: 'WeirRouteWriteFailing',
        severity: 'critical',
        summary: `the route of ${name} cannot be set to what its status calls for (canary ${status.canaryWeight}%): ${event.routeWriteFailure}`,
        action:
          'check that the controller can patch the VirtualService (or reach the gateway); it retries with backoff',
      });
    if (event.statusWriteFailure)
      wanted.push({
        alertname: 'WeirStatusWriteFailing',
        severity: 'warning',
        summary: `the status of ${name} cannot be written (a rollback still takes traffic off the canary): ${event.statusWriteFailure}`,
        action: 'check the rollout store: the API server (modelrollouts/status) or the local folder',
      });
    if (event.metricsUnavailable)
      wanted.push({
        alertname: 'WeirPrometheusUnreachable',
        severity: 'warning',
        summary: `no Prometheus query answered for ${name}: the rollout holds`,
        action: "check the controller's --prometheus URL and that Prometheus is up",
      });
    if (event.stepChanged && event.action === 'advance')
      wanted.push({
        alertname: 'WeirStageAdvanced',
        severity: 'info',
        summary: event.summary,
        oneShot: true,
        action: `weir status ${ref}`,
      });
    if (event.stepChanged && event.action === 'promote')
      wanted.push({ alertname: 'WeirCanaryPromoted', severity: 'info', summary: event.summary, oneShot: true });
    if (event.stepChanged && status.analysis.some((r) => r.kind === 'rollout' && r.verdict === 'inconclusive'))
      wanted.push({
        alertname: 'WeirRolloutInconclusive',
        severity: 'warning',
        summary: event.summary,
        oneShot: true,
        action: `weir history ${ref}`,
      });

    const now = this.now();
    const labelsOf = (w: Wanted): Record<string, string> => ({
      alertname: w.alertname,
      rollout: name,
      namespace,
      model: rollout.spec.model,
      stable: rollout.spec.stable.version,
      canary: rollout.spec.canary.version,
      stage: String(status.stage),
      severity: w.severity,
    });
    const annotationsOf = (w: Wanted): Record<string, string> => ({
      summary: w.summary,
      reasons: status.analysis.map((r) => r.message).join('\n'),
      ...(w.action ? { action: w.action } : {}),
    });
    const prefix = `${namespace}/${name}|`;
    const keep = new Set<string>();
    for (const w of wanted) {
      const labels = labelsOf(w);
      if (w.oneShot) {
        this.enqueue(identity(labels), {
          labels,
          annotations: annotationsOf(w),
          startsAt: iso(now),
          endsAt: iso(now + (this.options.oneShotMs ?? 10 * 60_000)),
        });
        continue;
      }
      const id = `${prefix}${w.alertname}`;
      keep.add(id);
      const current = this.active.get(id);
      // A condition alert keeps its identity (and startsAt) while it holds; it is sent again before it would lapse.
      if (
        current &&
        identity(current.alert.labels) === identity(labels) &&
        now - current.sentAt < (this.options.refreshMs ?? 60_000)
      )
        continue;
      const alert: AlertmanagerAlert = {
        labels,
        annotations: annotationsOf(w),
        startsAt: current && identity(current.alert.labels) === identity(labels) ? current.alert.startsAt : iso(now),
        endsAt: iso(now + (this.options.validForMs ?? 5 * 60_000)),
      };
      if (current && identity(current.alert.labels) !== identity(labels)) this.resolve(current.alert, now);
      this.active.set(id, { alert, sentAt: now });
      this.enqueue(identity(labels), alert);
    }
    for (const [id, { alert }] of this.active) {
      if (id.startsWith(prefix) && !keep.has(id)) {
        this.active.delete(id);
        this.resolve(alert, now);
      }
    }
    await this.flush();
  }

  private resolve(alert: AlertmanagerAlert, now: number): void {
    this.counts.resolved++;
    this.enqueue(identity(alert.labels), { ...alert, endsAt: iso(now) });
  }

  private enqueue(id: string, alert: AlertmanagerAlert): void {
    this.buffer.delete(id);
    this.buffer.set(id, alert);
    const limit = this.options.maxBuffered ?? 1000;
    while (this.buffer.size > limit) {
      this.buffer.delete(this.buffer.keys().next().value!);
      this.counts.dropped++;
    }
  }

  /** Posts everything buffered; on failure keeps it and retries with backoff. Never throws. */
  async flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    this.flushing = this.post().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async post(): Promise<void> {
    if (this.buffer.size === 0) return;
    const batch = [...this.buffer.entries()];
    try {
      const response = await (this.options.fetch ?? fetch)(`${this.url.replace(/\/$/, '')}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(batch.map(([, alert]) => alert)),
        signal: AbortSignal.timeout(5000),
      });
      if (!response.ok) throw new Error(`HTTP ${response.status} ${await response.text()}`);
      // Sent: drop what was sent, unless a newer state of it arrived meanwhile.
      for (const [id, alert] of batch) if (this.buffer.get(id) === alert) this.buffer.delete(id);
      this.counts.sent += batch.length;
      this.failures = 0;
    } catch {
      this.counts.failedPosts++;
      const delay = backoffMs(this.failures++, 500, MAX_BACKOFF_MS);
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => void this.flush(), delay);
      this.retryTimer.unref();
    }
  }

  /** Stops retrying (pending alerts stay in the buffer). */
  close(): void {
    clearTimeout(this.retryTimer);
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Alertmanager identifies an alert by its label set. */
function identity(labels: Record<string, string>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
}
