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
import { DestinationRuleCache, IstioRouter } from '../providers/istio/router.js';
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
  leaseName?: string;
  leaseDuration: string;
  identity?: string;
  resync: string;
  shard?: string;
  concurrency: string;
}

/** The label that assigns a ModelRollout to the controller started with `--shard <its value>`. */
export const SHARD_LABEL = 'weir.dev/shard';

/**
 * The label selector of a controller's shard: its rollouts are those labelled with
 * its name; an unsharded controller's are those with no shard label, so that every
 * rollout has exactly one controller.
 */
export function shardSelector(shard: string | undefined): string {
  return shard === undefined ? `!${SHARD_LABEL}` : `${SHARD_LABEL}=${shard}`;
}

/** A positive whole number of rollouts at once, or a UsageError naming the flag. */
function concurrencyOf(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 256)
    throw new UsageError(`--concurrency ${JSON.stringify(text)} is not a whole number from 1 to 256`);
  return n;
}

/** A shard name is a label value: up to 63 of [A-Za-z0-9-_.], starting and ending alphanumeric. */
function checkShard(shard: string | undefined): void {
  if (shard !== undefined && !/^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/.test(shard))
    throw new UsageError(
      `--shard ${JSON.stringify(shard)} is not a label value (up to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit)`,
    );
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
    { ...webhook(), concurrency: concurrencyOf(options.concurrency) },
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
  checkShard(options.shard);
  const concurrency = concurrencyOf(options.concurrency);
  const store = new KubeRolloutStore(kc, {
    namespaces: options.namespace,
    fieldManager,
    log,
    resyncMs: parseDuration(options.resync),
    labelSelector: shardSelector(options.shard),
  });
  const recorder = new ControllerMetrics();
  // Subsets are checked against a watch cache of DestinationRules: listing a namespace's
  // rules on every reconcile cost O(rollouts²) at scale.
  const destinationRules = new DestinationRuleCache(kc, { namespaces: options.namespace, log });
  const router = new IstioRouter(kc, {
    fieldManager,
    onWrite: () => recorder.routeWrite(),
    destinationRules,
  });
  const events = new KubeEvents(kc, identity, log);
  let elector: LeaderElector | undefined;
  if (options.leaderElect) {
    const leaseMs = parseDuration(options.leaseDuration);
    const namespace = options.leaseNamespace ?? process.env.POD_NAMESPACE ?? 'weir-system';
    // Each shard elects its own leader.
    const name = options.leaseName ?? (options.shard ? `weir-controller-${options.shard}` : 'weir-controller');
    elector = new LeaderElector(kc, { namespace, name, identity, leaseDurationMs: leaseMs, log });
  }
  const loop = new ControllerLoop(
    { store, router, events, ...common(options, recorder), log, namespace: 'default' },
    {
      isLeader: () => elector?.isLeader ?? true,
      isReady: () => store.synced && destinationRules.synced,
      concurrency,
      ...webhook(),
    },
    recorder,
  );
  await Promise.all([store.start(), destinationRules.start()]);
  elector?.start();
  loop.start();
  return {
    loop,
    describe: {
      identity,
      namespaces: options.namespace.length ? options.namespace : 'all',
      leaderElection: options.leaderElect,
      shard: options.shard ?? null,
      selector: shardSelector(options.shard),
      concurrency,
    },
    async stop() {
      // Finish the reconcile in progress, then give the Lease up so a standby takes over at once.
      await loop.stop();
      await elector?.stop();
      store.stop();
      destinationRules.stop();
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
  if (options.local && options.shard !== undefined)
    throw new UsageError(
      '--shard is for Kubernetes mode: it selects ModelRollouts by label, and local files have none',
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
