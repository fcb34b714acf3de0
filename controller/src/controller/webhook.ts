// Alertmanager's webhook: a firing alert whose name a rollout lists in
// spec.notifications.abortOnAlert, and whose version label is that rollout's
// canary, records an abort (applied at the next tick, within a second).
import { z } from 'zod';
import { RequestError } from '../../../shared/errors.js';
import { parseJsonBody, readBody, requireBearer, type Exchange, type Reply } from '../../../shared/http.js';
import type { Logger } from '../../../shared/log.js';
import { isFinished } from '../api/schema.js';
import { CommandRefusedError, type RolloutStore } from '../providers/types.js';

const WEBHOOK_MAX_BYTES = 1 << 20;

/** Alertmanager's webhook payload (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config), the part weir reads. */
const webhookPayload = z.object({
  alerts: z
    .array(
      z.object({
        status: z.string().max(32),
        labels: z.record(z.string().max(1024), z.string().max(4096)).default({}),
      }),
    )
    .max(10_000),
});

/** The webhook handler; with no token it answers 404 (the endpoint is off). */
export function alertmanagerWebhook(store: RolloutStore, log: Logger, token: string | undefined) {
  return async ({ req }: Exchange): Promise<Reply> => {
    if (!token) throw new RequestError(404, 'the webhook is off: start the controller with WEIR_WEBHOOK_TOKEN set');
    requireBearer(req, token, 'the Alertmanager webhook');
    const parsed = webhookPayload.safeParse(
      parseJsonBody((await readBody(req, WEBHOOK_MAX_BYTES)).toString('utf8'), 'body'),
    );
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new RequestError(
        400,
        `${['body', ...issue.path.map(String)].join('.')}: ${issue.message}; expected an Alertmanager webhook payload {"alerts": [{"status", "labels"}]}`,
      );
    }
    const aborted: string[] = [];
    const failed: { rollout: string; error: string }[] = [];
    const { rollouts } = await store.list();
    for (const alert of parsed.data.alerts) {
      const labels = new Map(Object.entries(alert.labels));
      const alertname = labels.get('alertname');
      if (alert.status !== 'firing' || !alertname) continue;
      for (const { key, rollout, commands } of rollouts) {
        const { spec } = rollout;
        if (!spec.notifications?.abortOnAlert.includes(alertname)) continue;
        if ((labels.get('version') ?? labels.get('canary')) !== spec.canary.version) continue;
        if (labels.has('model') && labels.get('model') !== spec.model) continue;
        const namespace = labels.get('namespace');
        if (namespace && rollout.metadata.namespace && namespace !== rollout.metadata.namespace) continue;
        // Finished, or an abort already waits: Alertmanager repeats firing alerts, and each must not become a command.
        if (isFinished(rollout.status!.phase) || aborted.includes(key) || commands.some((c) => c.type === 'abort'))
          continue;
        // One rollout's failure (its store refuses, it was deleted) must not keep the others from being aborted.
        try {
          await store.addCommand(key, {
            type: 'abort',
            by: `alertmanager:${alertname}`.slice(0, 256),
            at: new Date().toISOString(),
          });
          aborted.push(key);
          log.warn('abort requested by an alert', { rollout: key, alert: alertname, version: spec.canary.version });
        } catch (err) {
          if (err instanceof CommandRefusedError) continue; // it finished meanwhile; the refusal is recorded
          const error = err instanceof Error ? err.message : String(err);
          failed.push({ rollout: key, error });
          log.error('cannot record an abort requested by an alert', { rollout: key, alert: alertname, err: error });
        }
      }
    }
    // Alertmanager retries a webhook that failed: a 503 after every other abort was recorded makes it try the failed ones again.
    if (failed.length > 0)
      return {
        status: 503,
        body: { aborted, failed, error: `${failed.length} abort(s) could not be recorded; Alertmanager will retry` },
        headers: { 'retry-after': '5' },
      };
    return { status: 200, body: { aborted } };
  };
}
