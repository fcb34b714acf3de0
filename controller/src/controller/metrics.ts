// The controller's Prometheus metrics, as one recorder created first and
// handed to the parts that record (the loop, the Prometheus provider, the
// Istio router), as Flagger's recorder.go is. Nothing reaches back into the
// loop to count.
import client from 'prom-client';
import { parseDuration } from '../../../shared/duration.js';
import { phases, type ModelRollout } from '../api/schema.js';
import type { Decision } from '../engine/types.js';

/** Every rollout series: the store's key, the rollout's namespace and its model (dashboards filter on them). */
const ROLLOUT_LABELS = ['rollout', 'rollout_namespace', 'model'] as const;

export type ReconcileOutcome = 'ok' | 'unroutable' | 'failed' | 'error';

/** The controller's metrics recorder (see the module comment). */
export class ControllerMetrics {
  readonly registry = new client.Registry();
  private readonly counter = (name: string, help: string, labelNames: readonly string[] = []) =>
    new client.Counter({ name, help, labelNames, registers: [this.registry] });
  private readonly gauge = (name: string, help: string, labelNames: readonly string[] = []) =>
    new client.Gauge({ name, help, labelNames, registers: [this.registry] });
  private readonly reconciles = this.counter(
    'weir_controller_reconciles_total',
    'Reconciles by result (ok, unroutable, failed, error)',
    ['rollout', 'result'],
  );
  private readonly weight = this.gauge('weir_rollout_canary_weight', 'Canary weight applied, percent', ROLLOUT_LABELS);
  private readonly phase = this.gauge('weir_rollout_phase', '1 for the phase a rollout is in', [
    ...ROLLOUT_LABELS,
    'phase',
  ]);
  private readonly queryCount = this.counter(
    'weir_controller_metric_queries_total',
    'Prometheus queries by result (ok, error)',
    ['result'],
  );
  private readonly routeWrites = this.counter(
    'weir_controller_route_writes_total',
    'VirtualService writes by this replica',
  );
  private readonly routeWriteFailures = this.counter(
    'weir_controller_route_write_failures_total',
    'Route writes that failed (retried with backoff)',
    ['rollout'],
  );
  private readonly statusWriteFailures = this.counter(
    'weir_controller_status_write_failures_total',
    'Status writes that failed (a rollback still takes traffic off the canary)',
    ['rollout'],
  );
  private readonly routeSynced = this.gauge(
    'weir_rollout_route_synced',
    "1 when the route carries what the rollout's status calls for, 0 while it cannot be written",
    ROLLOUT_LABELS,
  );
  private readonly invalidRollouts = this.gauge(
    'weir_controller_invalid_rollouts',
    '1 per rollout the controller skips because its file, spec or status is invalid',
    ['rollout'],
  );
  private readonly stageStarted = this.gauge(
    'weir_rollout_stage_started_timestamp_seconds',
    'When the current stage began',
    ROLLOUT_LABELS,
  );
  private readonly deadline = this.gauge(
    'weir_rollout_deadline_timestamp_seconds',
    'When the rollout reaches maxDuration (startedAt + maxDuration)',
    ROLLOUT_LABELS,
  );
  private readonly leading = this.gauge('weir_controller_leader', '1 while this replica is the one that acts');
  private readonly verdict = this.gauge(
    'weir_rollout_analysis_verdict',
    '1 for the verdict each guardrail and comparison got at the last analysis',
    [...ROLLOUT_LABELS, 'kind', 'metric', 'verdict'],
  );
  private readonly effect = this.gauge(
    'weir_rollout_comparison_effect',
    'Canary − stable estimate of each comparison at the last analysis, with its confidence interval (bound="estimate", "lower", "upper")',
    [...ROLLOUT_LABELS, 'metric', 'bound'],
  );
  private readonly pValue = this.gauge(
    'weir_rollout_comparison_p_value',
    'Adjusted p-value of each comparison at the last analysis (always-valid for mSPRT)',
    [...ROLLOUT_LABELS, 'metric'],
  );
  private readonly ratioPValue = this.gauge(
    'weir_rollout_sample_ratio_p_value',
    "p-value of the sample-ratio check (requests per version against the route's weights) at the last analysis",
    ROLLOUT_LABELS,
  );
  private readonly ratioMismatch = this.gauge(
    'weir_rollout_sample_ratio_mismatch',
    '1 while the last sample-ratio check found a mismatch (p below spec.analysis.sampleRatio.threshold)',
    ROLLOUT_LABELS,
  );
  private readonly experimentWeight = this.gauge(
    'weir_experiment_weight',
    "An experiment's split: each version's weight in force, percent",
    [...ROLLOUT_LABELS, 'version'],
  );
  private readonly probabilityBest = this.gauge(
    'weir_experiment_probability_best',
    "A bandit arm's posterior probability of having the highest reward, at the last look",
    [...ROLLOUT_LABELS, 'version'],
  );
  private readonly regret = this.gauge(
    'weir_experiment_estimated_regret',
    "A bandit arm's estimated regret so far: its rewards × (best mean − its mean)",
    [...ROLLOUT_LABELS, 'version'],
  );
  private readonly candidateEffect = this.gauge(
    'weir_experiment_comparison_effect',
    'Candidate − control estimate of each comparison at the last analysis, with its interval (bound="estimate", "lower", "upper")',
    [...ROLLOUT_LABELS, 'version', 'metric', 'bound'],
  );
  private readonly roundSeconds = new client.Histogram({
    name: 'weir_controller_round_seconds',
    help: 'How long one round took to reconcile every rollout that was due (rounds with none due are not counted)',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120],
    registers: [this.registry],
  });
  private readonly roundRollouts = this.gauge(
    'weir_controller_round_rollouts',
    'Rollouts reconciled in the last round that had any due',
  );
  private readonly decisionToRoute = new client.Histogram({
    name: 'weir_controller_decision_to_route_seconds',
    help: 'From a decision that changes the route to the VirtualService (or gateway) write that carries it',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  /** The verdict series each rollout's metrics have now, so a changed verdict replaces the old one. */
  private readonly verdictSeries = new Map<string, client.LabelValues<string>[]>();

  constructor() {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'weir_controller_' });
  }

  /** One round of Prometheus queries: how many answered, how many failed. */
  queries(ok: number, failed: number): void {
    if (ok) this.queryCount.inc({ result: 'ok' }, ok);
    if (failed) this.queryCount.inc({ result: 'error' }, failed);
  }

  /** A round that reconciled `rollouts` due rollouts in `seconds`. */
  round(rollouts: number, seconds: number): void {
    this.roundSeconds.observe(seconds);
    this.roundRollouts.set(rollouts);
  }

  /** A route written `seconds` after the decision that called for it. */
  routedAfter(seconds: number): void {
    this.decisionToRoute.observe(seconds);
  }

  /** One VirtualService write. */
  routeWrite(): void {
    this.routeWrites.inc();
  }

  leader(isLeader: boolean): void {
    this.leading.set(isLeader ? 1 : 0);
  }

  reconciled(key: string, outcome: ReconcileOutcome, failures: { route?: boolean; status?: boolean } = {}): void {
    this.reconciles.inc({ rollout: key, result: outcome });
    if (failures.route) this.routeWriteFailures.inc({ rollout: key });
    if (failures.status) this.statusWriteFailures.inc({ rollout: key });
  }

  /** Whether the rollout's route is known to carry what its status calls for. */
  routeInSync(key: string, rollout: ModelRollout, synced: boolean): void {
    this.routeSynced.set(labelsOf(key, rollout), synced ? 1 : 0);
  }

  /** The rollouts skipped as invalid right now. */
  invalid(keys: string[]): void {
    this.invalidRollouts.reset();
    for (const key of keys) this.invalidRollouts.set({ rollout: key }, 1);
  }

  /** The rollout's gauges after a decision: weight (when applied), phase, stage times, the sample-ratio check, verdicts and comparison estimates. */
  decided(key: string, rollout: ModelRollout, decision: Decision, applied: boolean): void {
    const labels = labelsOf(key, rollout);
    if (applied) this.weight.set(labels, decision.canaryWeight);
    for (const phase of phases) this.phase.set({ ...labels, phase }, phase === decision.statusPatch.phase ? 1 : 0);
    const { stageStartedAt, startedAt } = decision.statusPatch;
    if (stageStartedAt) this.stageStarted.set(labels, Date.parse(stageStartedAt) / 1000);
    if (startedAt)
      this.deadline.set(labels, (Date.parse(startedAt) + parseDuration(rollout.spec.strategy.maxDuration)) / 1000);
    // The record is kept while a paused rollout waits, so the mismatch gauge (and its alert) holds until resume.
    const ratio = decision.statusPatch.sampleRatio;
    this.ratioMismatch.set(labels, ratio?.detected ? 1 : 0);
    if (ratio?.pValue !== undefined) this.ratioPValue.set(labels, ratio.pValue);
    else this.ratioPValue.remove(labels);
    this.experimentDecided(labels, decision);
    const judged = decision.reasons.filter((r) => (r.kind === 'guardrail' || r.kind === 'comparison') && r.metric);
    // Only a decision that judged metrics replaces the verdicts (a command-only round judges none).
    if (judged.length === 0) return;
    for (const old of this.verdictSeries.get(key) ?? []) this.verdict.remove(old);
    const series = judged.map((r) => ({ ...labels, kind: r.kind, metric: r.metric!, verdict: r.verdict }));
    for (const s of series) this.verdict.set(s, 1);
    this.verdictSeries.set(key, series);
    for (const r of judged) {
      if (r.kind !== 'comparison' || r.effect === undefined || !r.ci) continue;
      if (r.version) {
        // An experiment's candidate against the control.
        const metric = { ...labels, version: r.version, metric: r.metric! };
        this.candidateEffect.set({ ...metric, bound: 'estimate' }, r.effect);
        this.candidateEffect.set({ ...metric, bound: 'lower' }, r.ci[0]!);
        this.candidateEffect.set({ ...metric, bound: 'upper' }, r.ci[1]!);
        continue;
      }
      const metric = { ...labels, metric: r.metric! };
      this.effect.set({ ...metric, bound: 'estimate' }, r.effect);
      this.effect.set({ ...metric, bound: 'lower' }, r.ci[0]!);
      this.effect.set({ ...metric, bound: 'upper' }, r.ci[1]!);
      if (r.adjustedPValue !== undefined) this.pValue.set(metric, r.adjustedPValue);
    }
  }

  /** An experiment's split, and each bandit arm's P(best) and estimated regret (absent arms' series are removed). */
  private experimentDecided(labels: ReturnType<typeof labelsOf>, decision: Decision): void {
    const { weights, experiment } = decision.statusPatch;
    for (const [version, weight] of Object.entries(weights ?? {}))
      this.experimentWeight.set({ ...labels, version }, weight);
    for (const arm of experiment?.arms ?? []) {
      const series = { ...labels, version: arm.version };
      if (arm.pBest === undefined) this.probabilityBest.remove(series);
      else this.probabilityBest.set(series, arm.pBest);
      if (arm.regret === undefined) this.regret.remove(series);
      else this.regret.set(series, arm.regret);
    }
  }
}

function labelsOf(key: string, rollout: ModelRollout) {
  return { rollout: key, rollout_namespace: rollout.metadata.namespace ?? '', model: rollout.spec.model };
}
