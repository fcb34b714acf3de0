// One reconcile of one rollout: read, measure, decide, record, route, notify.
// The decision is written to status before the weights change, and every round
// makes the router match the status, so a controller killed at any instant
// resumes without losing or repeating a step.
import type { Logger } from '../../../predictor/src/log.js';
import { parseDuration } from '../../../predictor/src/duration.js';
import { observe, planQueries } from '../analysis/observations.js';
import { windowText } from '../analysis/template.js';
import { decide } from '../engine/decide.js';
import type { Decision } from '../engine/types.js';
import type { MetricsProvider, Notifier, RolloutStore, TrafficRouter } from '../providers/types.js';

export interface ControllerParts {
  store: RolloutStore;
  router: TrafficRouter;
  metrics: MetricsProvider;
  notifier?: Notifier;
  log: Logger;
  namespace: string;
  now?: () => number;
}

export async function reconcile(parts: ControllerParts, name: string): Promise<Decision> {
  const now = (parts.now ?? Date.now)();
  const stored = await parts.store.get(name);
  const { rollout } = stored;
  const status = rollout.status!;
  const stageMs = status.stageStartedAt ? now - Date.parse(status.stageStartedAt) : 0;
  const window = windowText(stageMs, Math.ceil(parseDuration(rollout.spec.analysis.interval) / 1000));
  const results = await parts.metrics.query(planQueries(rollout.spec, { namespace: parts.namespace, window }));
  const observations = observe(rollout.spec, results);
  // The request rate this stage has seen, for the engine's ETA of enough samples.
  const seen = (observations.samples.stable ?? 0) + (observations.samples.canary ?? 0);
  const trafficRate = stageMs > 0 && seen > 0 ? seen / (stageMs / 1000) : undefined;
  const decision = decide({ spec: rollout.spec, status, observations, commands: stored.commands, now, ...(trafficRate ? { trafficRate } : {}) });
  await parts.store.writeStatus(name, decision.statusPatch, stored.revision);
  const routes = await parts.router.getRoutes(rollout);
  if (routes.canary !== decision.canaryWeight || decision.stepId !== status.lastStepId) {
    await parts.router.setRoutes(rollout, decision.canaryWeight, decision.mirrorPercent);
    parts.log.info('weights applied', { rollout: name, stepId: decision.stepId, action: decision.action, canaryWeight: decision.canaryWeight, mirrorPercent: decision.mirrorPercent });
  }
  if (decision.action !== 'hold' && decision.stepId !== status.lastStepId) {
    parts.log.info('decision', { rollout: name, action: decision.action, summary: decision.statusPatch.message });
    await parts.notifier?.notify({ rollout, action: decision.action, summary: decision.statusPatch.message ?? decision.action, status: decision.statusPatch }).catch((err: unknown) => parts.log.warn('notification failed', { rollout: name, err }));
  }
  return decision;
}
