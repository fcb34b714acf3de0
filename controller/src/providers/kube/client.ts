// Connecting to a Kubernetes API server the way kubectl does, and turning its
// failures into one readable line.
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApiException, KubeConfig } from '@kubernetes/client-node';
import { UsageError } from '../../../../shared/errors.js';

export interface KubeConnection {
  /** A kubeconfig file; default KUBECONFIG, then ~/.kube/config, then the pod's service account. */
  kubeconfig?: string;
  /** A context in that kubeconfig; default its current-context. */
  context?: string;
}

const IN_CLUSTER_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** The kubeconfig as kubectl finds it: --kubeconfig, KUBECONFIG or ~/.kube/config, else the pod's service account. */
export function loadKubeConfig(options: KubeConnection = {}): KubeConfig {
  const kc = new KubeConfig();
  if (options.kubeconfig) {
    if (!existsSync(options.kubeconfig)) throw new UsageError(`--kubeconfig: ${options.kubeconfig} does not exist`);
    kc.loadFromFile(options.kubeconfig);
  } else if (process.env.KUBECONFIG || existsSync(path.join(os.homedir(), '.kube', 'config'))) {
    kc.loadFromDefault();
  } else if (process.env.KUBERNETES_SERVICE_HOST && existsSync(IN_CLUSTER_TOKEN)) {
    kc.loadFromCluster();
  } else {
    throw new UsageError(
      'no Kubernetes cluster configured: pass --kubeconfig FILE, set KUBECONFIG, create ~/.kube/config, or run in a pod (for local mode pass --local DIR)',
    );
  }
  if (options.context) {
    if (!kc.getContextObject(options.context))
      throw new UsageError(
        `--context: "${options.context}" is not in the kubeconfig; it has ${
          kc
            .getContexts()
            .map((c) => c.name)
            .join(', ') || 'no contexts'
        }`,
      );
    kc.setCurrentContext(options.context);
  }
  if (!kc.getCurrentCluster())
    throw new UsageError(`the kubeconfig's current context "${kc.getCurrentContext()}" names no cluster`);
  return reuseConnections(kc);
}

/** The private method of KubeConfig (client-node 2.x) that makes an undici dispatcher for one API call. */
type DispatcherMaker = (cluster: unknown, agentOptions: unknown) => { close?(): Promise<void> } | undefined;

/**
 * Makes API calls share connections. client-node 2.0 builds a new undici Agent
 * for every API call when TLS options are set (a CA, a client certificate, or
 * insecure-skip-tls-verify), so each call opened a new TLS connection and left it
 * open until its idle timeout: at 1,000 rollouts (~110 calls/s) that cost the
 * controller ~360 MB of native memory and a TLS handshake in every
 * decision-to-route write. One dispatcher is kept per set of options, and
 * replaced (the old one closed) when they change, as when a certificate file is
 * rotated. Watches already reuse a cached agent.
 */
export function reuseConnections(kc: KubeConfig): KubeConfig {
  const target = kc as unknown as { createDispatcher?: DispatcherMaker };
  const make = target.createDispatcher;
  if (typeof make !== 'function') return kc;
  let cached: { key: string; dispatcher: ReturnType<DispatcherMaker> } | undefined;
  target.createDispatcher = function (cluster, agentOptions) {
    const key = JSON.stringify([
      kc.createDispatcherOptions(cluster as never, agentOptions as never),
      kc.getCurrentUser()?.name,
    ]);
    if (cached?.key === key) return cached.dispatcher;
    void cached?.dispatcher?.close?.().catch(() => undefined);
    cached = { key, dispatcher: make.call(kc, cluster, agentOptions) };
    return cached.dispatcher;
  };
  return kc;
}

/** The namespace of the current context, as kubectl picks it. */
export function contextNamespace(kc: KubeConfig): string {
  return kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
}

export interface KubeFailure {
  /** HTTP status, when the server answered. */
  code?: number;
  reason?: string;
  message: string;
}

/** The API server's own words for a failed call (its Status message), or the network error. */
export function kubeFailure(err: unknown): KubeFailure {
  if (err instanceof KubeError) return err.failure;
  if (err instanceof ApiException) {
    let body: unknown = err.body;
    if (typeof body === 'string') {
      try {
        body = JSON.parse(body);
      } catch {
        // not JSON: keep the text
      }
    }
    const status = body as { message?: string; reason?: string } | string | undefined;
    const message =
      typeof status === 'object' && status?.message
        ? status.message
        : typeof status === 'string' && status
          ? status
          : `HTTP ${err.code}`;
    return {
      code: err.code,
      ...(typeof status === 'object' && status?.reason ? { reason: status.reason } : {}),
      message,
    };
  }
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  return { message: e.cause?.message ?? e.message ?? String(err) };
}

export const isNotFound = (err: unknown) => kubeFailure(err).code === 404;
export const isConflict = (err: unknown) => kubeFailure(err).code === 409;

/** An error whose message is the API server's one line (for CLI output and logs). */
export class KubeError extends Error {
  override name = 'KubeError';
  constructor(
    readonly failure: KubeFailure,
    context: string,
  ) {
    super(`${context}: ${failure.message}`);
  }
}

/** Runs a call and rethrows its failure as a KubeError that says what was being done. */
export async function kubeCall<T>(context: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof KubeError) throw err;
    throw new KubeError(kubeFailure(err), context);
  }
}
