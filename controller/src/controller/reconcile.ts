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
import { RouteConfigError, type EventRecorder, type MetricsProvider, type Notifier, type RolloutStore, type TrafficRouter } from '../providers/types.js';
import { setCondition } from './conditions.js';

export interface ControllerParts {
  store: RolloutStore;
  router: TrafficRouter;
  metrics: MetricsProvider;
  notifier?: Notifier;
  events?: EventRecorder;
  log: Logger;
  /** The {{namespace}} of queries for a rollout without one (local mode). */
  namespace: string;
  now?: () => number;
}

const EVENT_REASONS: Record<Decision['action'], string> = {
  advance: 'StageAdvanced',
  'await-approval': 'AwaitingApproval',
  promote: 'Promoted',
  rollback: 'RolledBack',
  pause: 'Paused',
  hold: 'Holding',
};

/**
 * Reconciles one rollout. Returns undefined when its traffic cannot be routed
 * (a missing VirtualService, route or subset): that is recorded as the
 * TrafficRouted condition and a Warning Event, and the rollout waits.
 */
export async function reconcile(parts: ControllerParts, key: string): Promise<Decision | undefined> {
  const now = (parts.now ?? Date.now)();
  const stored = await parts.store.get(key);
  const { rollout } = stored;
  const status = rollout.status!;
  let routes: { stable: number; canary: number };
  try {
    routes = await parts.router.getRoutes(rollout);
  } catch (err) {
    if (!(err instanceof RouteConfigError)) throw err;
    const conditions = setCondition(status.conditions, { type: 'TrafficRouted', status: 'False', reason: err.reason, message: err.message }, now);
    if (conditions !== status.conditions) {
      await parts.store.writeStatus(key, { ...status, conditions }, stored.revision);
      parts.log.warn('cannot route traffic; waiting', { rollout: key, reason: err.reason, message: err.message });
      await parts.events?.record(rollout, 'Warning', err.reason, err.message);
    }
    return undefined;
  }
  const stageMs = status.stageStartedAt ? now - Date.parse(status.stageStartedAt) : 0;
  const window = windowText(stageMs, Math.ceil(parseDuration(rollout.spec.analysis.interval) / 1000));
  const plan = planQueries(rollout.spec, { namespace: rollout.metadata.namespace ?? parts.namespace, window });
  const results = await parts.metrics.query(plan);
  const metricsUnavailable = plan.length > 0 && (parts.metrics.lastFailures?.length ?? 0) === plan.length;
  const observations = observe(rollout.spec, results);
  // The request rate this stage has seen, for the engine's ETA of enough samples.
  const seen = (observations.samples.stable ?? 0) + (observations.samples.canary ?? 0);
  const trafficRate = stageMs > 0 && seen > 0 ? seen / (stageMs / 1000) : undefined;
  const decision = decide({ spec: rollout.spec, status, observations, commands: stored.commands, now, ...(trafficRate ? { trafficRate } : {}) });
  decision.statusPatch.conditions = setCondition(decision.statusPatch.conditions, { type: 'TrafficRouted', status: 'True', reason: 'Routed', message: `route "${rollout.spec.virtualService.route}" of VirtualService ${rollout.spec.virtualService.name} carries the weights` }, now);
  await parts.store.writeStatus(key, decision.statusPatch, stored.revision);
  if (routes.canary !== decision.canaryWeight || decision.stepId !== status.lastStepId) {
    await parts.router.setRoutes(rollout, decision.canaryWeight, decision.mirrorPercent);
    parts.log.info('weights applied', { rollout: key, stepId: decision.stepId, action: decision.action, canaryWeight: decision.canaryWeight, mirrorPercent: decision.mirrorPercent });
  }
  const summary = decision.statusPatch.message ?? decision.action;
  const stepChanged = decision.action !== 'hold' && decision.stepId !== status.lastStepId;
  if (stepChanged) {
    parts.log.info('decision', { rollout: key, action: decision.action, summary });
    await parts.events?.record(rollout, decision.action === 'rollback' ? 'Warning' : 'Normal', EVENT_REASONS[decision.action], summary);
  }
  // Every round: the notifier fires alerts while their condition holds and resolves them when it ends.
  await parts.notifier?.notify({ rollout, action: decision.action, summary, status: decision.statusPatch, stepChanged, metricsUnavailable }).catch((err: unknown) => parts.log.warn('notification failed', { rollout: key, err }));
  return decision;
}
