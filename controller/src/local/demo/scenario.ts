// One demo scenario, end to end on this machine: start the stack (stack.ts),
// follow the rollout to its end (watch.ts), and collect the results
// (results.ts). Everything it starts is stopped when it ends, however it ends.
import type { Reason } from '../../api/schema.js';
import { PrometheusMetrics } from '../../providers/prometheus/provider.js';
import { writeReport } from '../../report/write.js';
import type { BusinessCoefficients, BusinessImpact } from '../../stats/business-impact.js';
import { sleep, waitFor } from '../../../../shared/wait.js';
import {
  activeAlerts,
  businessOf,
  finalWeights,
  resultsTable,
  shadowOf,
  srmOf,
  versionShares,
  weightsApplied,
  type ShadowResult,
} from './results.js';
import { routedVersions } from '../../engine/route.js';
import type { DemoExperiment } from './rollout-spec.js';
import { ROLLOUT, startStack } from './stack.js';
import { watchRollout } from './watch.js';

export const SCENARIOS = {
  good: 'v2',
  'bad-accuracy': 'v3',
  slow: 'v4',
  shadow: 'v2',
  'bad-shadow': 'v3',
  srm: 'v2',
  abn: 'v2',
  bandit: 'v2',
  'blue-green': 'v2',
} as const;
/** The experiments: v1 the control, v2 (better) and v3 (worse) the candidates. */
const EXPERIMENTS: Partial<Record<ScenarioName, DemoExperiment>> = {
  abn: { type: 'abn', candidates: ['v3'] },
  bandit: { type: 'bandit', candidates: ['v3'] },
};
/** Scenarios with a shadow (mirror) stage before the canary takes traffic. */
const SHADOW_SCENARIOS: readonly ScenarioName[] = ['shadow', 'bad-shadow', 'blue-green'];
/**
 * The srm fault: half the requests the route sends to the canary reach v1
 * instead, and are counted there, so at 10% the canary serves 5%. Its stages
 * last a minute, long enough for the always-valid test to see it (about 2,500
 * requests at the demo's 100 req/s).
 */
const SRM_FAULT = { divertPercent: 50, minStageDuration: '60s' };
export type ScenarioName = keyof typeof SCENARIOS;

export interface VersionRow {
  version: string;
  requests: number;
  successRate: number;
  meanLatencyMs: number;
  p95LatencyMs: number;
  accuracy: number;
  errorRate: number;
  businessValue: number;
}

export interface ScenarioView {
  scenario: ScenarioName;
  elapsedSeconds: number;
  phase: string;
  stage: number;
  canaryWeight: number;
  /** The baseline's share, when the scenario runs one. */
  baselineWeight?: number;
  /** An experiment's split, each version's weight. */
  weights?: Record<string, number>;
  reasons: Reason[];
  message: string;
  sent: number;
  failed: number;
  approvedBy?: string;
}

export interface ScenarioResult {
  scenario: ScenarioName;
  phase: string;
  weightsApplied: number[];
  failedRequests: number;
  durationSeconds: number;
  rollbackReason: string | null;
  table: VersionRow[];
  business: BusinessImpact | null;
  /** The rollout's business coefficients the impact was computed with. */
  coefficients: BusinessCoefficients | null;
  alertsSent: number;
  /** The alerts active in Alertmanager at the end, as its API lists them (for a rollout paused on a mismatch, while it waited). */
  alertsActive: { alertname: string; severity: string; state: string }[];
  /** Where the experiment report was written. */
  reportPath: string | null;
  /** Requests each version answered for users (mirrored copies not included), as the client saw them. */
  answeredBy: Record<string, number>;
  /** The mirror stage's paired results, in the shadow scenarios. */
  shadow?: ShadowResult;
  /** The baseline the canary was judged against, when there was one. */
  baseline: string | null;
  /** The route's weights per version at the end. */
  finalWeights: Record<string, number>;
  /** Requests each version served (from Prometheus), its share of them, and its accuracy on ground truth. */
  versions: Record<string, { requests: number; share: number; accuracy: number }>;
  /** The last sample-ratio check: its p-value and whether it found a mismatch (null if none was made). */
  srm: { pValue: number | null; detected: boolean } | null;
  /** The experiment's winner (abn, bandit), or null. */
  winner: string | null;
  /** Every step the rollout took: its action, the canary's weight after it, and when (seconds after the rollout started). */
  steps: { action: string; canaryWeight: number; atSeconds: number }[];
  /** An experiment's split over time: each change, when and why. */
  weightHistory: { at: string; weights: Record<string, number>; summary: string }[];
}

export interface ScenarioOptions {
  onView?: (view: ScenarioView) => void;
  timeoutMs?: number;
  ratePerSecond?: number;
  signal?: AbortSignal;
  /** Write the experiment report here (.html or .md) at the end, while Prometheus still runs. */
  reportPath?: string;
  /** Judge the canary against a baseline of v1 started with it (Kayenta's practice), not against the warm v1. */
  baseline?: boolean;
  /** Called once the stack runs, with where its rollouts and Prometheus are (weir demo --dashboard starts the dashboard here); what it returns is called when the scenario ends. */
  onStarted?: (running: { rolloutsDir: string; prometheusUrl: string }) => Promise<(() => Promise<void>) | void>;
  /** Called at the end with everything still running (tests check the dashboards' queries here). */
  beforeStop?: (running: { prometheusUrl: string; rollout: string; startedAt: number }) => Promise<void>;
}

/** Runs one demo scenario to its end and returns what happened, every number from Prometheus. */
export async function runScenario(scenario: ScenarioName, options: ScenarioOptions = {}): Promise<ScenarioResult> {
  const canary = SCENARIOS[scenario];
  const started = Date.now();
  const shadowStage = SHADOW_SCENARIOS.includes(scenario);
  const stack = await startStack(canary, {
    ...(options.ratePerSecond !== undefined ? { ratePerSecond: options.ratePerSecond } : {}),
    shadow: shadowStage,
    baseline: options.baseline ?? false,
    ...(scenario === 'srm' ? SRM_FAULT : {}),
    ...(EXPERIMENTS[scenario] ? { experiment: EXPERIMENTS[scenario] } : {}),
    blueGreen: scenario === 'blue-green',
  });
  let stopStarted: (() => Promise<void>) | void = undefined;
  try {
    stopStarted = await options.onStarted?.({ rolloutsDir: stack.store.dir, prometheusUrl: stack.prometheus.url });
    const { phase, message } = await watchRollout(stack, scenario, started, options);
    // Paused on a sample-ratio mismatch, the rollout waits for a person: Prometheus's rule
    // (WeirSampleRatioMismatch) tells them. The alerts are read once it reached Alertmanager, while
    // the controller still runs: once its metrics stop, Prometheus resolves the alert.
    let whilePaused: Awaited<ReturnType<typeof activeAlerts>> = [];
    if (phase === 'Paused' && (await stack.store.get(ROLLOUT)).rollout.status?.sampleRatio?.detected)
      await waitFor(
        async () =>
          (whilePaused = await activeAlerts(stack.alertmanager.url)).some(
            (a) => a.alertname === 'WeirSampleRatioMismatch',
          ),
        20_000,
        'the WeirSampleRatioMismatch alert in Alertmanager',
        500,
      ).catch(() => undefined);
    // The rollout is over: no more rounds, so nothing reaches the notifier after it is flushed and closed.
    await stack.loop.stop();
    await stack.load.stop();
    // One more scrape so the table includes the last requests and feedback.
    await sleep(2500);
    await stack.notifier.flush();
    stack.notifier.close();
    const prometheus = new PrometheusMetrics({ url: stack.prometheus.url });
    const { rollout } = await stack.store.get(ROLLOUT);
    const [table, business, alertsAtEnd, shadow] = await Promise.all([
      resultsTable(
        prometheus,
        routedVersions(rollout.spec).map((ref) => ref.version),
      ),
      businessOf(prometheus, rollout),
      activeAlerts(stack.alertmanager.url),
      shadowStage ? shadowOf(prometheus, rollout) : undefined,
    ]);
    if (options.reportPath) await writeReport(rollout, { prometheus: stack.prometheus.url, out: options.reportPath });
    await options.beforeStop?.({ prometheusUrl: stack.prometheus.url, rollout: ROLLOUT, startedAt: started });
    return {
      scenario,
      phase,
      weightsApplied: weightsApplied(rollout),
      failedRequests: stack.load.stats.failed,
      durationSeconds: Math.round((Date.now() - started) / 100) / 10,
      rollbackReason: phase === 'RolledBack' ? message : null,
      table,
      business,
      coefficients: rollout.spec.analysis.business ?? null,
      alertsSent: stack.notifier.counts.sent,
      alertsActive: phase === 'Paused' && whilePaused.length > 0 ? whilePaused : alertsAtEnd,
      reportPath: options.reportPath ?? null,
      answeredBy: Object.fromEntries(Object.entries(stack.load.stats.byVersion).map(([v, s]) => [v, s.requests])),
      ...(shadow ? { shadow } : {}),
      baseline: rollout.spec.baseline?.version ?? null,
      finalWeights: finalWeights(rollout),
      versions: versionShares(table),
      srm: srmOf(rollout),
      winner: rollout.status?.experiment?.winner ?? null,
      steps: (rollout.status?.history ?? []).map((h) => ({
        action: h.action,
        canaryWeight: h.canaryWeight,
        atSeconds: Math.round((Date.parse(h.at) - Date.parse(rollout.status!.startedAt ?? h.at)) / 100) / 10,
      })),
      weightHistory: rollout.status?.weightHistory ?? [],
    };
  } finally {
    await stopStarted?.().catch(() => undefined);
    await stack.stop();
  }
}
