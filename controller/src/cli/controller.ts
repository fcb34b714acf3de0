// `weir controller`: the reconcile loop. Local mode (--local DIR) uses the file
// store and the local gateway; otherwise it runs against the Kubernetes API with
// the ModelRollout store, the Istio router, Events and leader election.
import os from 'node:os';
import { createLogger, type Logger } from '../../../shared/log.js';
import { parseDuration } from '../../../shared/duration.js';
import { ControllerLoop } from '../controller/loop.js';
import { ControllerMetrics } from '../controller/metrics.js';
import type { ControllerParts } from '../controller/reconcile.js';
import { AlertmanagerNotifier } from '../providers/alertmanager/notifier.js';
import { FileRolloutStore } from '../providers/file/store.js';
import { GatewayRouter } from '../providers/gateway/router.js';
import { IstioRouter } from '../providers/istio/router.js';
import { loadKubeConfig } from '../providers/kube/client.js';
import { KubeEvents } from '../providers/kube/events.js';
import { LeaderElector } from '../providers/kube/lease.js';
import { KubeRolloutStore } from '../providers/kube/store.js';
import { PrometheusMetrics } from '../providers/prometheus/provider.js';
import { UsageError } from '../../../shared/errors.js';

export interface ControllerCommandOptions {
  local?: string;
  prometheus: string;
  gateway?: string;
  alertmanager?: string;
  port: string;
  host: string;
  kubeconfig?: string;
  context?: string;
  namespace: string[];
  leaderElect: boolean;
  leaseNamespace?: string;
  leaseName: string;
  leaseDuration: string;
  identity?: string;
  resync: string;
}

/** Alertmanager's webhook is on when WEIR_WEBHOOK_TOKEN holds its bearer token. */
function webhook(): { webhookToken?: string } {
  return process.env.WEIR_WEBHOOK_TOKEN ? { webhookToken: process.env.WEIR_WEBHOOK_TOKEN } : {};
}

interface Running {
  loop: ControllerLoop;
  stop(): Promise<void>;
  describe: Record<string, unknown>;
}

/** The providers both modes share; `recorder` is the controller's metrics, made first and handed to each part. */
function common(
  options: ControllerCommandOptions,
  recorder: ControllerMetrics,
): Pick<ControllerParts, 'metrics' | 'notifier'> {
  return {
    metrics: new PrometheusMetrics({ url: options.prometheus, recorder }),
    ...(options.alertmanager ? { notifier: new AlertmanagerNotifier(options.alertmanager) } : {}),
  };
}

function local(options: ControllerCommandOptions, log: Logger): Running {
  if (!options.gateway)
    throw new UsageError(
      '--gateway <url> is required with --local: the local gateway admin URL, such as http://127.0.0.1:15000',
    );
  const token = process.env.WEIR_GATEWAY_TOKEN;
  if (!token) throw new UsageError('WEIR_GATEWAY_TOKEN is not set: the gateway admin token');
  const recorder = new ControllerMetrics();
  const loop = new ControllerLoop(
    {
      store: new FileRolloutStore(options.local!),
      router: new GatewayRouter(options.gateway, token),
      ...common(options, recorder),
      log,
      namespace: 'local',
    },
    webhook(),
    recorder,
  );
  loop.start();
  return { loop, stop: () => loop.stop(), describe: { local: options.local } };
}

async function kube(options: ControllerCommandOptions, log: Logger): Promise<Running> {
  const kc = loadKubeConfig({
    ...(options.kubeconfig ? { kubeconfig: options.kubeconfig } : {}),
    ...(options.context ? { context: options.context } : {}),
  });
  const identity = options.identity ?? process.env.POD_NAME ?? `${os.hostname()}-${process.pid}`;
  const fieldManager = `weir-controller`;
  const store = new KubeRolloutStore(kc, {
    namespaces: options.namespace,
    fieldManager,
    log,
    resyncMs: parseDuration(options.resync),
  });
  const recorder = new ControllerMetrics();
  const router = new IstioRouter(kc, { fieldManager, onWrite: () => recorder.routeWrite() });
  const events = new KubeEvents(kc, identity, log);
  let elector: LeaderElector | undefined;
  if (options.leaderElect) {
    const leaseMs = parseDuration(options.leaseDuration);
    const namespace = options.leaseNamespace ?? process.env.POD_NAMESPACE ?? 'weir-system';
    elector = new LeaderElector(kc, { namespace, name: options.leaseName, identity, leaseDurationMs: leaseMs, log });
  }
  const loop = new ControllerLoop(
    { store, router, events, ...common(options, recorder), log, namespace: 'default' },
    { isLeader: () => elector?.isLeader ?? true, isReady: () => store.synced, ...webhook() },
    recorder,
  );
  await store.start();
  elector?.start();
  loop.start();
  return {
    loop,
    describe: {
      identity,
      namespaces: options.namespace.length ? options.namespace : 'all',
      leaderElection: options.leaderElect,
    },
    async stop() {
      // Finish the reconcile in progress, then give the Lease up so a standby takes over at once.
      await loop.stop();
      await elector?.stop();
      store.stop();
    },
  };
}

/** `weir controller`: runs the loop in local or Kubernetes mode until SIGTERM, then stops gracefully. */
export async function runController(options: ControllerCommandOptions): Promise<void> {
  const log = createLogger('controller');
  if (options.local && (options.kubeconfig || options.context))
    throw new UsageError(
      '--local and --kubeconfig/--context exclude each other: local mode reads a folder, Kubernetes mode the API server',
    );
  const running = options.local ? local(options, log) : await kube(options, log);
  const port = await running.loop.listen(Number(options.port), options.host);
  log.always('listening', { port, prometheus: options.prometheus, ...running.describe });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.always('stopping', { signal });
    void running.stop().then(() => {
      log.always('stopped');
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
