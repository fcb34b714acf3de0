// One reconcile of one rollout: read, measure, decide, route, record, notify.
//
// Why the writes happen in this order:
//
// 1. A decision that takes traffic away from the canary (a rollback: a lower
//    weight or mirror share) goes to the route FIRST, then to status. The
//    route write carries the step's record (AppliedStep: a VirtualService
//    annotation, or the gateway's route) in the same atomic write. So:
//    - status cannot be written (read-only folder, API server 5xx or 409,
//      RBAC): traffic is already off the canary;
//    - the controller dies between the two writes: the route holds the
//      canary at 0% and says which rollback put it there. The next round
//      (this replica or another, after a restart) reads that record and the
//      engine completes the rollback as decided, with its original time,
//      author and reasons. It never decides again from newer metrics, which
//      could otherwise send traffic back to a canary weir rolled back;
//    - status cannot be written: the rollback, and the stage's analysis state,
//      are kept in this controller's memory (UnwrittenDecisions) until status
//      records them, so a route edit that drops the record, or newer metrics,
//      cannot undo it, and consecutive guardrail failures keep counting.
// 2. A decision that gives the canary more traffic (start, advance, promote,
//    retry) is written to status FIRST and routed only once status is durable.
//    A crash or failed route write in between leaves status ahead of the
//    route, and rule 3 raises the route next round; a failed status write
//    routes nothing. No step is lost, and none is repeated: a step is
//    identified by its stepId, and history records it once.
// 3. Every round, for every rollout (finished ones too, and right after a
//    restart), the route is compared with what status calls for and rewritten
//    when they differ (level-triggered). A finished rollout is held at 0% or
//    100% whatever anyone edits.
// 4. Status is written only when it changed, and a conflict (a command
//    arrived, another writer) means read again and decide again at once.
// 5. Only one rollout writes a route: when several name the same
//    VirtualService route, the loop picks its owner (ownership.ts), and the
//    others neither write it nor progress. Leadership is checked again right
//    before each write, so a replica that lost the Lease mid-round stops.
import type { Logger } from '../../../shared/log.js';
import { parseDuration } from '../../../shared/duration.js';
import { isFinished, type Condition, type ModelRollout, type RolloutStatus } from '../api/schema.js';
import { observe, planQueries, type Observations } from '../analysis/observations.js';
import { windowText } from '../analysis/template.js';
import { decide } from '../engine/decide.js';
import { describeSampleRatio } from '../engine/sample-ratio.js';
import { lowersExposure, routeTarget } from '../engine/route.js';
import { warmupMs, warmupState } from '../engine/stages.js';
import type { Decision } from '../engine/types.js';
import {
  ConflictError,
  RouteConfigError,
  type EventRecorder,
  type MetricsProvider,
  type Notifier,
  type RolloutStore,
  type RouteState,
  type TrafficRouter,
} from '../providers/types.js';
import { retry } from '../../../shared/retry.js';
import { setCondition } from './conditions.js';
import { UnwrittenDecisions } from './unwritten.js';

/** The edges one reconcile talks to, and the controller's memory of what status could not record yet. */
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
  /** Decisions status could not record yet (see unwritten.ts); one per controller. */
  unwritten?: UnwrittenDecisions;
  /** Whether this replica may still write (leader election); checked right before each write. */
  isLeader?: () => boolean;
}

export interface ReconcileOptions {
  /** Another rollout owns this one's route (ownership.ts): do not write it, and do not progress. */
  routeOwner?: string;
}

/** This replica lost the Lease mid-round: nothing more is written. */
export class NotLeaderError extends Error {
  override name = 'NotLeaderError';
}

export interface ReconcileResult {
  /** Undefined when the rollout's traffic cannot be routed (see `unroutable`). */
  decision?: Decision;
  /** The VirtualService, route, destination or subset is missing: the rollout waits. */
  unroutable?: RouteConfigError;
  /** The route could not be made to match the decision: why. */
  routeFailure?: string;
  /** Status could not be written: why. */
  statusFailure?: string;
  /** Whether the route was written this round. */
  routed: boolean;
  /** When it was: milliseconds from the decision to the route write's answer. */
  routedAfterMs?: number;
}

const EVENT_REASONS: Record<Decision['action'], string> = {
  advance: 'StageAdvanced',
  'await-approval': 'AwaitingApproval',
  promote: 'Promoted',
  rollback: 'RolledBack',
  pause: 'Paused',
  hold: 'Holding',
};

const CONFLICT_RETRIES = 3;
const NO_OBSERVATIONS: Observations = {
  samples: { stable: undefined, canary: undefined },
  guardrails: [],
  comparisons: [],
};

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Reconciles one rollout: reads it and its route, decides, and writes the route
 * and status in the order the header explains. A status conflict is read and
 * decided again at once (up to 3 times). Resolves with what happened, failures
 * included; rejects only when the rollout or its route cannot be read.
 */
export async function reconcile(
  parts: ControllerParts,
  key: string,
  options: ReconcileOptions = {},
): Promise<ReconcileResult> {
  return retry(() => reconcileOnce(parts, key, options), {
    attempts: CONFLICT_RETRIES,
    retryOn: (err) => err instanceof ConflictError,
  });
}

async function reconcileOnce(parts: ControllerParts, key: string, options: ReconcileOptions): Promise<ReconcileResult> {
  const now = (parts.now ?? Date.now)();
  const unwritten = (parts.unwritten ??= new UnwrittenDecisions());
  const stored = await parts.store.get(key);
  const { rollout } = stored;
  const unroutable = async (err: RouteConfigError): Promise<ReconcileResult> => {
    const current = rollout.status!;
    const conditions = setCondition(
      current.conditions,
      { type: 'TrafficRouted', status: 'False', reason: err.reason, message: err.message },
      now,
    );
    if (conditions !== current.conditions) {
      assertLeader(parts);
      await parts.store.writeStatus(key, { ...current, conditions }, stored.revision);
      parts.log.warn('cannot route traffic; waiting', { rollout: key, reason: err.reason, message: err.message });
      await parts.events?.record(rollout, 'Warning', err.reason, err.message);
    }
    return { unroutable: err, routed: false };
  };
  const finished = isFinished(rollout.status!.phase);
  // Another rollout owns the route: a live one waits; a finished one only takes commands.
  if (options.routeOwner && !finished) {
    return unroutable(
      new RouteConfigError(
        'RouteInUse',
        `route "${rollout.spec.virtualService.route}" of VirtualService ${rollout.spec.virtualService.name} is in use by rollout ${options.routeOwner}; this one waits until that one finishes or is deleted`,
      ),
    );
  }
  let routes: RouteState;
  try {
    routes = await parts.router.getRoutes(rollout);
  } catch (err) {
    if (!(err instanceof RouteConfigError)) throw err;
    return unroutable(err);
  }
  // What this controller decided but could not record yet counts, ahead of the route's own record.
  const remembered = unwritten.apply(key, rollout.status!);
  const status = remembered.status;

  // A finished rollout needs no metrics: only its route and any command (a retry, or one to refuse).
  const stageMs = status.stageStartedAt ? now - Date.parse(status.stageStartedAt) : 0;
  let observations = NO_OBSERVATIONS;
  let metricsUnavailable = false;
  let trafficRate: number | undefined;
  if (!finished) {
    // The warm-up is left out of the window: Prometheus judges only the stage after it.
    const { warming, judgedMs } = warmupState(warmupMs(rollout.spec), stageMs);
    const window = windowText(judgedMs, Math.ceil(parseDuration(rollout.spec.analysis.interval) / 1000));
    const plan = planQueries(rollout.spec, {
      namespace: rollout.metadata.namespace ?? parts.namespace,
      window,
      warming,
    });
    const { results, failures } = await parts.metrics.query(plan);
    metricsUnavailable = plan.length > 0 && failures.length === plan.length;
    observations = observe(rollout.spec, results);
    // The request rate this stage has seen, for the engine's ETA of enough samples.
    const seen = (observations.samples.stable ?? 0) + (observations.samples.canary ?? 0);
    trafficRate = judgedMs > 0 && seen > 0 ? seen / (judgedMs / 1000) : undefined;
  }
  const applied = remembered.rollback ?? routes.step;
  const decision = decide({
    spec: rollout.spec,
    status,
    observations,
    commands: stored.commands,
    now,
    ...(trafficRate ? { trafficRate } : {}),
    ...(applied ? { applied } : {}),
  });
  decision.statusPatch.conditions = setCondition(
    decision.statusPatch.conditions,
    {
      type: 'TrafficRouted',
      status: 'True',
      reason: 'Routed',
      message: `route "${rollout.spec.virtualService.route}" of VirtualService ${rollout.spec.virtualService.name} carries the weights`,
    },
    now,
  );

  decision.statusPatch.conditions = setCondition(
    decision.statusPatch.conditions,
    sampleRatioCondition(rollout, decision),
    now,
  );

  const decidedAt = performance.now();
  const routeWanted = routeTarget(rollout.spec, decision);
  const weightsDiffer =
    routeWanted.weights.some((w, i) => routes.weights[i] !== w.weight) ||
    routes.mirrorPercent !== decision.mirrorPercent;
  const stepChanged = decision.action !== 'hold' && decision.stepId !== status.lastStepId;
  // A rollout whose route another owns never writes it.
  const needsRoute = !options.routeOwner && (weightsDiffer || (stepChanged && routes.step?.stepId !== decision.stepId));
  const statusChanged = !sameStatus(decision.statusPatch, rollout.status!);

  let routeFailure: string | undefined;
  let statusFailure: string | undefined;
  let routed = false;
  let routedAfterMs: number | undefined;
  const route = async () => {
    try {
      assertLeader(parts);
      await parts.router.setRoutes(rollout, routeWanted, decision.applied);
      routed = true;
      routedAfterMs = performance.now() - decidedAt;
      parts.log.info('weights applied', {
        rollout: key,
        stepId: decision.stepId,
        action: decision.action,
        weights: routeWanted.weights.map((w) => `${w.ref.version}=${w.weight}`).join(','),
        mirrorPercent: decision.mirrorPercent,
      });
    } catch (err) {
      if (err instanceof NotLeaderError || err instanceof ConflictError) throw err;
      routeFailure = message(err);
      parts.log.error('route write failed; retrying with backoff', {
        rollout: key,
        stepId: decision.stepId,
        canaryWeight: decision.canaryWeight,
        err: routeFailure,
      });
    }
  };
  const record = async (): Promise<void> => {
    try {
      assertLeader(parts);
      await parts.store.writeStatus(key, decision.statusPatch, stored.revision);
      unwritten.forget(key);
    } catch (err) {
      if (err instanceof ConflictError || err instanceof NotLeaderError) throw err;
      statusFailure = message(err);
      unwritten.remember(key, decision.statusPatch, decision.applied, rollout.status!);
      parts.log.error('status write failed', { rollout: key, stepId: decision.stepId, err: statusFailure });
    }
  };

  if (
    needsRoute &&
    lowersExposure(routes, { weights: routeWanted.weights.map((w) => w.weight), mirrorPercent: decision.mirrorPercent })
  ) {
    // Rule 1: traffic off the canary first; the route carries the record.
    await route();
    if (statusChanged) await record();
  } else {
    // Rule 2: more traffic only once status says so.
    if (statusChanged) await record();
    if (needsRoute && !statusFailure) await route();
  }

  const summary = decision.statusPatch.message ?? decision.action;
  if (stepChanged && !statusFailure) {
    parts.log.info('decision', { rollout: key, action: decision.action, summary });
    await parts.events?.record(
      rollout,
      decision.action === 'rollback' ? 'Warning' : 'Normal',
      EVENT_REASONS[decision.action],
      summary,
    );
  }
  // A refusal is reported once, when status has recorded it (until then the command is read again each round).
  for (const refused of statusChanged && !statusFailure
    ? decision.reasons.filter((r) => r.kind === 'command' && r.verdict === 'refused')
    : []) {
    parts.log.warn('command refused', { rollout: key, message: refused.message });
    await parts.events?.record(rollout, 'Warning', 'CommandRefused', refused.message);
  }
  // Every round: the notifier fires alerts while their condition holds and resolves them when it ends.
  await parts.notifier
    ?.notify({
      rollout,
      action: decision.action,
      summary,
      status: decision.statusPatch,
      stepChanged,
      metricsUnavailable,
      ...(routeFailure ? { routeWriteFailure: routeFailure } : {}),
      ...(statusFailure ? { statusWriteFailure: statusFailure } : {}),
    })
    .catch((err: unknown) => parts.log.warn('notification failed', { rollout: key, err: message(err) }));
  return {
    decision,
    routed,
    ...(routedAfterMs !== undefined ? { routedAfterMs } : {}),
    ...(routeFailure ? { routeFailure } : {}),
    ...(statusFailure ? { statusFailure } : {}),
  };
}

function assertLeader(parts: ControllerParts): void {
  if (parts.isLeader && !parts.isLeader())
    throw new NotLeaderError('this replica no longer holds the Lease; another one acts');
}

/** Whether writing `next` would change what is stored (key order aside). */
function sameStatus(next: RolloutStatus, stored: RolloutStatus): boolean {
  return canonical(next) === canonical(stored);
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>)
            .filter(([, x]) => x !== undefined)
            .sort(([a], [b]) => a.localeCompare(b)),
        )
      : v,
  );
}

/** SampleRatioMismatch: True while the stage's requests per version do not follow the weights (see engine/sample-ratio). */
function sampleRatioCondition(rollout: ModelRollout, decision: Decision): Omit<Condition, 'lastTransitionTime'> {
  const record = decision.statusPatch.sampleRatio;
  const type = 'SampleRatioMismatch';
  if (record?.pValue === undefined)
    return {
      type,
      status: 'Unknown',
      reason: 'NotJudged',
      message:
        decision.reasons.find((r) => r.kind === 'sample-ratio')?.message ??
        'judged while traffic is split, after the warm-up, once each version expects enough requests',
    };
  const message = describeSampleRatio(record, rollout.spec.analysis.sampleRatio.threshold);
  return record.detected
    ? { type, status: 'True', reason: 'Mismatch', message }
    : { type, status: 'False', reason: 'Matches', message };
}
