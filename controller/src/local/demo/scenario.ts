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
import { ControllerLoop } from '../../controller/loop.js';
import type { ControllerParts } from '../../controller/reconcile.js';
import { AlertmanagerNotifier } from '../../providers/alertmanager/notifier.js';
import { FileRolloutStore } from '../../providers/file/store.js';
import { GatewayRouter } from '../../providers/gateway/router.js';
import { PrometheusMetrics } from '../../providers/prometheus/provider.js';
import type { BusinessCoefficients, BusinessImpact } from '../../stats/business-impact.js';
import { writeReport } from '../../report/write.js';
import { startAlertmanager, type AlertmanagerProcess } from '../alertmanager-process.js';
import { Gateway } from '../gateway/server.js';
import { parseRouteTable } from '../gateway/routes.js';
import { packageRoot, startPredictor, type PredictorProcess } from '../predictor-process.js';
import { freePort } from '../free-port.js';
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
  /** Where the experiment report was written. */
  reportPath: string | null;
}

export interface ScenarioOptions {
  onView?: (view: ScenarioView) => void;
  timeoutMs?: number;
  ratePerSecond?: number;
  signal?: AbortSignal;
  /** Write the experiment report here (.html or .md) at the end, while Prometheus still runs. */
  reportPath?: string;
  /** Called at the end with everything still running (tests check the dashboards' queries here). */
  beforeStop?: (running: { prometheusUrl: string; rollout: string; startedAt: number }) => Promise<void>;
}

async function promScalar(prometheus: PrometheusMetrics, query: string): Promise<Map<string, number>> {
  const { result } = await prometheus.instant(query);
  return new Map(
    (result as { metric: Record<string, string>; value: [number, string] }[]).map((r) => [
      r.metric.destination_version ?? r.metric.version ?? '',
      Number(r.value[1]),
    ]),
  );
}

/** The seed's results table, every number from Prometheus. */
async function resultsTable(prometheus: PrometheusMetrics, versions: string[]): Promise<VersionRow[]> {
  const served = 'istio_requests_total{request_mirrored="false"}';
  const [requests, ok, sum, count, p95, correct, labelled, gains, losses] = await Promise.all([
    promScalar(prometheus, `sum by (destination_version) (${served})`),
    promScalar(
      prometheus,
      `sum by (destination_version) (istio_requests_total{request_mirrored="false",response_code=~"2.."})`,
    ),
    promScalar(
      prometheus,
      'sum by (destination_version) (istio_request_duration_milliseconds_sum{request_mirrored="false"})',
    ),
    promScalar(
      prometheus,
      'sum by (destination_version) (istio_request_duration_milliseconds_count{request_mirrored="false"})',
    ),
    promScalar(
      prometheus,
      'histogram_quantile(0.95, sum by (le, destination_version) (istio_request_duration_milliseconds_bucket{request_mirrored="false"}))',
    ),
    promScalar(prometheus, 'sum by (version) (weir_predictor_feedback_total{outcome="correct"})'),
    promScalar(prometheus, 'sum by (version) (weir_predictor_feedback_total)'),
    promScalar(prometheus, 'sum by (version) (weir_predictor_business_value_gains_sum_total)'),
    promScalar(prometheus, 'sum by (version) (weir_predictor_business_value_losses_sum_total)'),
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
      const p = await startPredictor({
        modelRepository: repository,
        model: MODEL,
        version,
        args: ['--log-level', 'warn'],
      });
      predictors[version] = p;
      cleanups.push(() => p.stop());
    }
    const token = randomBytes(24).toString('hex');
    const gateway = new Gateway(
      {
        table: parseRouteTable({
          http: [
            {
              name: 'primary',
              route: [
                { destination: { host: 'predictor', subset: 'v1' }, weight: 100 },
                { destination: { host: 'predictor', subset: canary }, weight: 0 },
              ],
            },
          ],
        }),
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

    const router = new GatewayRouter(`http://127.0.0.1:${ports.adminPort}`, token);
    const recordingRouter: ControllerParts['router'] = {
      getRoutes: (r) => router.getRoutes(r),
      async setRoutes(r, weight, mirror, step) {
        await router.setRoutes(r, weight, mirror, step);
        if (weightsApplied.at(-1) !== weight) weightsApplied.push(weight);
      },
    };
    const notifier = new AlertmanagerNotifier(alertmanager.url);
    const store = new FileRolloutStore(rolloutsDir);
    // The same loop as `weir controller`, serving /metrics for Prometheus (the dashboards' rollout panels).
    const controllerPort = await freePort();
    const prometheus: PrometheusProcess = await startPrometheus({
      targets: [
        { job: 'gateway', targets: [`127.0.0.1:${ports.adminPort}`] },
        // In a cluster, discovery labels each predictor series with its namespace; the dashboards filter on it.
        {
          job: 'predictors',
          targets: Object.values(predictors).map((p) => new URL(p.url).host),
          labels: { namespace: 'local' },
        },
        { job: 'weir-controller', targets: [`127.0.0.1:${controllerPort}`] },
      ],
      // weir's own alert rules, evaluated by Prometheus and sent to the same Alertmanager.
      ruleFiles: [path.join(packageRoot(), 'alerts', 'weir.rules.yml')],
      alertmanagerUrl: alertmanager.url,
    });
    cleanups.push(() => prometheus.stop());
    const loop: ControllerLoop = new ControllerLoop({
      store,
      router: recordingRouter,
      metrics: new PrometheusMetrics({
        url: prometheus.url,
        timeoutMs: 2000,
        retries: 1,
        onQueries: (ok, failed) => loop.recordQueries(ok, failed),
      }),
      notifier,
      log,
      namespace: 'local',
    });
    await loop.listen(controllerPort);
    cleanups.push(() => loop.stop());
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
    loop.start();

    const deadline = started + (options.timeoutMs ?? 5 * 60_000);
    let phase = 'Pending';
    let message = '';
    let approvedBy: string | undefined;
    let seen = '';
    while (Date.now() < deadline && !options.signal?.aborted) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      const status = (await store.get(ROLLOUT)).rollout.status!;
      const unroutable = status.conditions.find((c) => c.type === 'TrafficRouted' && c.status === 'False');
      if (unroutable) throw new Error(`the local gateway cannot route ${ROLLOUT}: ${unroutable.message}`);
      phase = status.phase;
      message = status.message ?? '';
      if (phase === 'AwaitingApproval' && !approvedBy) {
        // The same code path as `weir approve`: a command recorded with who gave it.
        approvedBy = 'weir-demo (automatic approval)';
        await store.addCommand(ROLLOUT, { type: 'approve', by: approvedBy, at: new Date().toISOString() });
      }
      const view = `${status.lastStepId}|${message}|${load.stats.sent}`;
      if (view !== seen)
        options.onView?.({
          scenario,
          elapsedSeconds: (Date.now() - started) / 1000,
          phase,
          stage: status.stage,
          canaryWeight: status.canaryWeight,
          reasons: status.analysis,
          message,
          sent: load.stats.sent,
          failed: load.stats.failed,
          ...(approvedBy ? { approvedBy } : {}),
        });
      seen = view;
      if (phase === 'Promoted' || phase === 'RolledBack') break;
    }
    // The rollout is over: no more rounds, so nothing reaches the notifier after it is flushed and closed.
    await loop.stop();
    await load.stop();
    // One more scrape so the table includes the last requests and feedback.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    await notifier.flush();
    notifier.close();
    alertsSent = notifier.counts.sent;
    const alertsActive = (
      (await (await fetch(`${alertmanager.url}/api/v2/alerts`)).json()) as {
        labels: Record<string, string>;
        status: { state: string };
      }[]
    ).map((a) => ({
      alertname: a.labels.alertname ?? '',
      severity: a.labels.severity ?? '',
      state: a.status.state,
    }));
    const table = await resultsTable(new PrometheusMetrics({ url: prometheus.url }), ['v1', canary]);
    const { rollout } = await store.get(ROLLOUT);
    const coefficients = rollout.spec.analysis.business;
    // The report's own numbers (the whole rollout, from Prometheus) give the business impact.
    const report = await writeReport(rollout, {
      prometheus: prometheus.url,
      ...(options.reportPath ? { out: options.reportPath } : {}),
    });
    await options.beforeStop?.({ prometheusUrl: prometheus.url, rollout: ROLLOUT, startedAt: started });
    return {
      scenario,
      phase,
      weightsApplied,
      failedRequests: load.stats.failed,
      durationSeconds: Math.round((Date.now() - started) / 100) / 10,
      rollbackReason: phase === 'RolledBack' ? message : null,
      table,
      business: report.data.business ?? null,
      coefficients: coefficients ?? null,
      alertsSent,
      alertsActive,
      reportPath: options.reportPath ?? null,
    };
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  }
}
