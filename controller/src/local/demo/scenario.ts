// One demo scenario, end to end on this machine: predictors (v1 and a canary),
// the gateway, real Prometheus and Alertmanager, a load generator with ground
// truth, and the controller loop with the file store. Everything it starts is
// stopped when it ends, however it ends.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../../../../predictor/src/log.js';
import type { Reason } from '../../api/schema.js';
import { reconcile, type ControllerParts } from '../../controller/reconcile.js';
import { AlertmanagerNotifier } from '../../providers/alertmanager/notifier.js';
import { FileRolloutStore } from '../../providers/file/store.js';
import { GatewayRouter } from '../../providers/gateway/router.js';
import { PrometheusMetrics } from '../../providers/prometheus/provider.js';
import { businessImpact, type BusinessCoefficients, type BusinessImpact } from '../../stats/business-impact.js';
import { startAlertmanager, type AlertmanagerProcess } from '../alertmanager-process.js';
import { Gateway } from '../gateway/server.js';
import { parseRouteTable } from '../gateway/routes.js';
import { packageRoot, startPredictor, type PredictorProcess } from '../predictor-process.js';
import { startPrometheus, type PrometheusProcess } from '../prometheus-process.js';
import { LoadGenerator } from './load-generator.js';
import { demoRolloutYaml } from './rollout-spec.js';

export const SCENARIOS = { good: 'v2', 'bad-accuracy': 'v3', slow: 'v4' } as const;
export type ScenarioName = keyof typeof SCENARIOS;
const ROLLOUT = 'price-direction';
const MODEL = 'price-direction';

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
  /** The alerts active in Alertmanager at the end, as its API lists them. */
  alertsActive: { alertname: string; severity: string; state: string }[];
}

export interface ScenarioOptions {
  onView?: (view: ScenarioView) => void;
  timeoutMs?: number;
  ratePerSecond?: number;
  signal?: AbortSignal;
}

async function promScalar(url: string, query: string): Promise<Map<string, number>> {
  const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(query)}`);
  const body = (await response.json()) as { data?: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  return new Map((body.data?.result ?? []).map((r) => [r.metric.destination_version ?? r.metric.version ?? '', Number(r.value[1])]));
}

/** The seed's results table, every number from Prometheus. */
async function resultsTable(prometheusUrl: string, versions: string[]): Promise<VersionRow[]> {
  const served = 'istio_requests_total{request_mirrored="false"}';
  const [requests, ok, sum, count, p95, correct, labelled, gains, losses] = await Promise.all([
    promScalar(prometheusUrl, `sum by (destination_version) (${served})`),
    promScalar(prometheusUrl, `sum by (destination_version) (istio_requests_total{request_mirrored="false",response_code=~"2.."})`),
    promScalar(prometheusUrl, 'sum by (destination_version) (istio_request_duration_milliseconds_sum{request_mirrored="false"})'),
    promScalar(prometheusUrl, 'sum by (destination_version) (istio_request_duration_milliseconds_count{request_mirrored="false"})'),
    promScalar(prometheusUrl, 'histogram_quantile(0.95, sum by (le, destination_version) (istio_request_duration_milliseconds_bucket{request_mirrored="false"}))'),
    promScalar(prometheusUrl, 'sum by (version) (weir_predictor_feedback_total{outcome="correct"})'),
    promScalar(prometheusUrl, 'sum by (version) (weir_predictor_feedback_total)'),
    promScalar(prometheusUrl, 'sum by (version) (weir_predictor_business_value_gains_sum_total)'),
    promScalar(prometheusUrl, 'sum by (version) (weir_predictor_business_value_losses_sum_total)'),
  ]);
  return versions.map((version) => {
    const n = requests.get(version) ?? 0;
    return {
      version,
      requests: n,
      successRate: n > 0 ? (ok.get(version) ?? 0) / n : 0,
      meanLatencyMs: (count.get(version) ?? 0) > 0 ? (sum.get(version) ?? 0) / count.get(version)! : 0,
      p95LatencyMs: p95.get(version) ?? 0,
      accuracy: (labelled.get(version) ?? 0) > 0 ? (correct.get(version) ?? 0) / labelled.get(version)! : 0,
      errorRate: n > 0 ? 1 - (ok.get(version) ?? 0) / n : 0,
      businessValue: (gains.get(version) ?? 0) - (losses.get(version) ?? 0),
    };
  });
}

function impactOf(table: VersionRow[], latencies: Record<string, number[]>, coefficients: BusinessCoefficients | undefined): BusinessImpact | null {
  const [stable, canary] = table;
  if (!coefficients || !stable || !canary || stable.requests === 0 || canary.requests === 0) return null;
  const pointsSe = (p: number, n: number) => 100 * Math.sqrt((p * (1 - p)) / Math.max(1, n));
  const sd = (xs: number[]) => {
    const m = xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, xs.length - 1));
  };
  const ls = latencies[stable.version] ?? [];
  const lc = latencies[canary.version] ?? [];
  return businessImpact(
    coefficients,
    {
      accuracyPoints: { estimate: 100 * (canary.accuracy - stable.accuracy), se: Math.hypot(pointsSe(stable.accuracy, stable.requests), pointsSe(canary.accuracy, canary.requests)) },
      latencyMs: { estimate: canary.meanLatencyMs - stable.meanLatencyMs, se: Math.hypot(sd(ls) / Math.sqrt(Math.max(1, ls.length)), sd(lc) / Math.sqrt(Math.max(1, lc.length))) },
      errorRatePoints: { estimate: 100 * (canary.errorRate - stable.errorRate), se: Math.hypot(pointsSe(stable.errorRate, stable.requests), pointsSe(canary.errorRate, canary.requests)) },
    },
  );
}

export async function runScenario(scenario: ScenarioName, options: ScenarioOptions = {}): Promise<ScenarioResult> {
  const canary = SCENARIOS[scenario];
  const started = Date.now();
  const log = createLogger('controller', 'error');
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'weir-demo-'));
  const cleanups: (() => Promise<unknown>)[] = [() => rm(scratch, { recursive: true, force: true })];
  const weightsApplied: number[] = [];
  let alertsSent = 0;
  try {
    const rolloutsDir = path.join(scratch, 'rollouts');
    await mkdir(rolloutsDir);
    await writeFile(path.join(rolloutsDir, `${ROLLOUT}.yaml`), demoRolloutYaml(canary));
    const repository = path.join(packageRoot(), 'predictor', 'models');
    const predictors: Record<string, PredictorProcess> = {};
    for (const version of ['v1', canary]) {
      const p = await startPredictor({ modelRepository: repository, model: MODEL, version, args: ['--cache-max-entries', '0', '--log-level', 'warn'] });
      predictors[version] = p;
      cleanups.push(() => p.stop());
    }
    const token = randomBytes(24).toString('hex');
    const gateway = new Gateway(
      {
        table: parseRouteTable({ http: [{ name: 'primary', route: [{ destination: { host: 'predictor', subset: 'v1' }, weight: 100 }, { destination: { host: 'predictor', subset: canary }, weight: 0 }] }] }),
        backends: { v1: [predictors.v1!.url], [canary]: [predictors[canary]!.url] },
        service: 'predictor',
        token,
      },
      createLogger('gateway', 'error'),
    );
    const ports = await gateway.listen(0, 0);
    cleanups.push(() => gateway.close());
    const alertmanager: AlertmanagerProcess = await startAlertmanager();
    cleanups.push(() => alertmanager.stop());
    const prometheus: PrometheusProcess = await startPrometheus({
      targets: [
        { job: 'gateway', targets: [`127.0.0.1:${ports.adminPort}`] },
        { job: 'predictors', targets: Object.values(predictors).map((p) => new URL(p.url).host) },
      ],
    });
    cleanups.push(() => prometheus.stop());
    const load = new LoadGenerator({
      gatewayUrl: `http://127.0.0.1:${ports.port}`,
      predictorUrls: Object.fromEntries(Object.entries(predictors).map(([v, p]) => [v, p.url])),
      model: MODEL,
      ratePerSecond: options.ratePerSecond ?? 100,
      feedbackDelayMs: 1000,
      seed: 7,
    });
    load.start();
    cleanups.push(() => load.stop());

    const router = new GatewayRouter(`http://127.0.0.1:${ports.adminPort}`, token);
    const recordingRouter: ControllerParts['router'] = {
      getRoutes: (r) => router.getRoutes(r),
      async setRoutes(r, weight, mirror) {
        await router.setRoutes(r, weight, mirror);
        if (weightsApplied.at(-1) !== weight) weightsApplied.push(weight);
      },
    };
    const notifier = new AlertmanagerNotifier(alertmanager.url);
    const store = new FileRolloutStore(rolloutsDir);
    const parts: ControllerParts = {
      store,
      router: recordingRouter,
      metrics: new PrometheusMetrics({ url: prometheus.url, timeoutMs: 2000, retries: 1 }),
      notifier,
      log,
      namespace: 'local',
    };
    const deadline = started + (options.timeoutMs ?? 5 * 60_000);
    let phase = 'Pending';
    let message = '';
    let approvedBy: string | undefined;
    while (Date.now() < deadline && !options.signal?.aborted) {
      const decision = await reconcile(parts, ROLLOUT);
      if (!decision) throw new Error(`the local gateway cannot route ${ROLLOUT}: ${(await store.get(ROLLOUT)).rollout.status!.conditions.find((c) => c.type === 'TrafficRouted')?.message}`);
      phase = decision.statusPatch.phase;
      message = decision.statusPatch.message ?? '';
      if (decision.action === 'await-approval' && !approvedBy) {
        // The same code path as `weir approve`: a command recorded with who gave it.
        approvedBy = 'weir-demo (automatic approval)';
        await store.addCommand(ROLLOUT, { type: 'approve', by: approvedBy, at: new Date().toISOString() });
      }
      options.onView?.({ scenario, elapsedSeconds: (Date.now() - started) / 1000, phase, stage: decision.stage, canaryWeight: decision.canaryWeight, reasons: decision.reasons, message, sent: load.stats.sent, failed: load.stats.failed, ...(approvedBy ? { approvedBy } : {}) });
      if (phase === 'Promoted' || phase === 'RolledBack') break;
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
    await load.stop();
    // One more scrape so the table includes the last requests and feedback.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    await notifier.flush();
    notifier.close();
    alertsSent = notifier.counts.sent;
    const alertsActive = ((await (await fetch(`${alertmanager.url}/api/v2/alerts`)).json()) as { labels: Record<string, string>; status: { state: string } }[]).map((a) => ({
      alertname: a.labels.alertname ?? '',
      severity: a.labels.severity ?? '',
      state: a.status.state,
    }));
    const table = await resultsTable(prometheus.url, ['v1', canary]);
    const latencies = Object.fromEntries(Object.entries(load.stats.byVersion).map(([v, s]) => [v, s.latencies]));
    const coefficients = (await store.get(ROLLOUT)).rollout.spec.analysis.business;
    return {
      scenario,
      phase,
      weightsApplied,
      failedRequests: load.stats.failed,
      durationSeconds: Math.round((Date.now() - started) / 100) / 10,
      rollbackReason: phase === 'RolledBack' ? message : null,
      table,
      business: impactOf(table, latencies, coefficients),
      coefficients: coefficients ?? null,
      alertsSent,
      alertsActive,
    };
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  }
}
