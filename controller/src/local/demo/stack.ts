// Everything one demo scenario runs on this machine: two replicas each of v1
// and the canary (and of a baseline of v1, when asked), sharing a prediction log in a real Redis; the gateway; real
// Prometheus and Alertmanager; a load generator that sends predictions and
// their ground truth through the gateway, as a client would; and the
// controller loop with the file store. `stop()`
// stops all of it, in reverse order, however the scenario ended.
import { randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../../../../shared/log.js';
import { packageRoot } from '../../../../shared/paths.js';
import { ControllerLoop } from '../../controller/loop.js';
import { ControllerMetrics } from '../../controller/metrics.js';
import { AlertmanagerNotifier } from '../../providers/alertmanager/notifier.js';
import { FileRolloutStore } from '../../providers/file/store.js';
import { GatewayRouter } from '../../providers/gateway/router.js';
import { PrometheusMetrics } from '../../providers/prometheus/provider.js';
import { startAlertmanager, type AlertmanagerProcess } from '../alertmanager-process.js';
import { freePort } from '../free-port.js';
import { Gateway } from '../gateway/server.js';
import { parseRouteTable } from '../gateway/routes.js';
import { startPredictor, type PredictorProcess } from '../predictor-process.js';
import { startPrometheus, type PrometheusProcess } from '../prometheus-process.js';
import { startRedis } from '../redis-process.js';
import { LoadGenerator } from './load-generator.js';
import { BASELINE_VERSION, demoRolloutYaml, type DemoExperiment } from './rollout-spec.js';

export const ROLLOUT = 'price-direction';
const MODEL = 'price-direction';

export interface DemoStack {
  store: FileRolloutStore;
  prometheus: PrometheusProcess;
  alertmanager: AlertmanagerProcess;
  notifier: AlertmanagerNotifier;
  loop: ControllerLoop;
  load: LoadGenerator;
  /** Stops everything started, newest first; never rejects. */
  stop(): Promise<void>;
}

/** Replicas of each version: more than one, so feedback must find its prediction through the shared log. */
const REPLICAS = 2;

/**
 * Starts the whole local loop for a rollout of v1 → `canary` (with a shadow
 * stage first when `shadow`; with a baseline of v1 when `baseline`; with a
 * share of the canary's traffic diverted to v1 when `divertPercent`), and the
 * controller and load on it.
 */
export async function startStack(
  canary: string,
  {
    ratePerSecond,
    shadow = false,
    baseline = false,
    divertPercent,
    minStageDuration,
    experiment,
    blueGreen = false,
  }: {
    ratePerSecond?: number;
    shadow?: boolean;
    baseline?: boolean;
    /** The srm fault: this share of the canary's requests is sent to v1 instead, and counted there. */
    divertPercent?: number;
    minStageDuration?: string;
    /** An experiment: the candidates besides the canary get predictors and routes too. */
    experiment?: DemoExperiment;
    /** Blue-green: the shadow stage, then one switch to 100% (see demoRolloutYaml). */
    blueGreen?: boolean;
  } = {},
): Promise<DemoStack> {
  const log = createLogger('controller', 'error');
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'weir-demo-'));
  const cleanups: (() => Promise<unknown>)[] = [() => rm(scratch, { recursive: true, force: true })];
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  };
  try {
    const rolloutsDir = path.join(scratch, 'rollouts');
    await mkdir(rolloutsDir);
    await writeFile(
      path.join(rolloutsDir, `${ROLLOUT}.yaml`),
      demoRolloutYaml(canary, {
        shadow,
        baseline,
        ...(minStageDuration ? { minStageDuration } : {}),
        ...(experiment ? { experiment } : {}),
        blueGreen,
      }),
    );
    const repository = path.join(packageRoot(), 'predictor', 'models');
    // The baseline serves v1's model files under its own version name, from a repository of its own.
    const baselineRepository = path.join(scratch, 'models');
    if (baseline)
      await cp(path.join(repository, MODEL, 'v1'), path.join(baselineRepository, MODEL, BASELINE_VERSION), {
        recursive: true,
      });
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    const predictors: Record<string, PredictorProcess[]> = {
      v1: [],
      ...(baseline ? { [BASELINE_VERSION]: [] } : {}),
      [canary]: [],
      ...Object.fromEntries((experiment?.candidates ?? []).map((v) => [v, []])),
    };
    const starting = Object.keys(predictors).flatMap((version) =>
      Array.from({ length: REPLICAS }, async () => {
        const p = await startPredictor({
          modelRepository: version === BASELINE_VERSION ? baselineRepository : repository,
          model: MODEL,
          version,
          args: ['--log-level', 'warn', '--prediction-log', `${redis.url}/0`],
        });
        predictors[version]!.push(p);
        cleanups.push(() => p.stop());
      }),
    );
    await Promise.all(starting);
    const token = randomBytes(24).toString('hex');
    const gateway = new Gateway(
      {
        table: parseRouteTable({
          http: [
            {
              name: 'primary',
              route: [
                { destination: { host: 'predictor', subset: 'v1' }, weight: 100 },
                ...(baseline ? [{ destination: { host: 'predictor', subset: BASELINE_VERSION }, weight: 0 }] : []),
                { destination: { host: 'predictor', subset: canary }, weight: 0 },
                ...(experiment?.candidates ?? []).map((subset) => ({
                  destination: { host: 'predictor', subset },
                  weight: 0,
                })),
              ],
              retries: { attempts: 2, retryOn: 'connect-failure' },
            },
          ],
        }),
        backends: Object.fromEntries(Object.entries(predictors).map(([v, ps]) => [v, ps.map((p) => p.url)])),
        service: 'predictor',
        token,
        ...(divertPercent ? { divert: { from: canary, to: 'v1', percent: divertPercent } } : {}),
      },
      createLogger('gateway', 'error'),
    );
    const ports = await gateway.listen(0, 0);
    cleanups.push(() => gateway.close());
    const alertmanager: AlertmanagerProcess = await startAlertmanager();
    cleanups.push(() => alertmanager.stop());

    const router = new GatewayRouter(`http://127.0.0.1:${ports.adminPort}`, token);
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
          targets: Object.values(predictors)
            .flat()
            .map((p) => new URL(p.url).host),
          labels: { namespace: 'local' },
        },
        { job: 'weir-controller', targets: [`127.0.0.1:${controllerPort}`] },
      ],
      // weir's own alert rules, evaluated by Prometheus and sent to the same Alertmanager.
      ruleFiles: [path.join(packageRoot(), 'alerts', 'weir.rules.yml')],
      alertmanagerUrl: alertmanager.url,
    });
    cleanups.push(() => prometheus.stop());
    const recorder = new ControllerMetrics();
    const loop = new ControllerLoop(
      {
        store,
        router,
        metrics: new PrometheusMetrics({ url: prometheus.url, timeoutMs: 2000, retries: 1, recorder }),
        notifier,
        log,
        namespace: 'local',
      },
      {},
      recorder,
    );
    await loop.listen(controllerPort);
    cleanups.push(() => loop.stop());
    const load = new LoadGenerator({
      gatewayUrl: `http://127.0.0.1:${ports.port}`,
      model: MODEL,
      ratePerSecond: ratePerSecond ?? 100,
      feedbackDelayMs: 1000,
      seed: 7,
    });
    load.start();
    cleanups.push(() => load.stop());
    loop.start();
    return { store, prometheus, alertmanager, notifier, loop, load, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
