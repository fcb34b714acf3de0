// A minimal Notifier: posts an alert to Alertmanager's v2 API when a rollout is
// rolled back, promoted, or waits for approval. (Resolution, buffering and
// webhooks come with the observability work.)
import type { Notifier, RolloutEvent } from '../types.js';

const ALERTS: Record<string, { name: string; severity: string }> = {
  rollback: { name: 'WeirCanaryRolledBack', severity: 'critical' },
  promote: { name: 'WeirCanaryPromoted', severity: 'info' },
  'await-approval': { name: 'WeirRolloutAwaitingApproval', severity: 'warning' },
};

export class AlertmanagerNotifier implements Notifier {
  constructor(
    private readonly url: string,
    private readonly namespace = 'local',
  ) {}

  async notify(event: RolloutEvent): Promise<void> {
    const alert = ALERTS[event.action];
    if (!alert) return;
    const { rollout, status } = event;
    const name = rollout.metadata.name;
    const body = [
      {
        labels: {
          alertname: alert.name,
          rollout: name,
          namespace: rollout.metadata.namespace ?? this.namespace,
          model: rollout.spec.model,
          stable: rollout.spec.stable.version,
          canary: rollout.spec.canary.version,
          stage: String(status.stage),
          severity: alert.severity,
        },
        annotations: {
          summary: event.summary,
          reasons: status.analysis.map((r) => r.message).join('\n'),
          ...(event.action === 'await-approval' ? { action: `weir approve ${name}` } : {}),
        },
        startsAt: new Date().toISOString(),
      },
    ];
    const response = await fetch(`${this.url.replace(/\/$/, '')}/api/v2/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!response.ok) throw new Error(`alertmanager: HTTP ${response.status} ${await response.text()}`);
  }
}
