// The controller process: reconciles every rollout in the store on its own
// analysis interval (finished ones too: their routes are held at 0% or 100%),
// retries a failed reconcile with backoff, reports rollouts it cannot use
// without letting them block the others, and serves /metrics, /healthz,
// /readyz and Alertmanager's webhook (webhook.ts). No request can stop it.
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseDuration } from '../../../shared/duration.js';
import { createServer, metricsReply, type Route } from '../../../shared/http.js';
import { backoffMs } from '../../../shared/retry.js';
import type { InvalidRollout, StoredRollout } from '../providers/types.js';
import { ControllerMetrics } from './metrics.js';
import { routeOwners } from './ownership.js';
import { NotLeaderError, reconcile, type ControllerParts, type ReconcileResult } from './reconcile.js';
import { UnwrittenDecisions } from './unwritten.js';
import { alertmanagerWebhook } from './webhook.js';

export interface LoopOptions {
  /** Bearer token Alertmanager's webhook must send to POST /alertmanager/webhook; unset: the endpoint is off. */
  webhookToken?: string;
  /** Only act when this says so (leader election); default always. */
  isLeader?: () => boolean;
  /** Extra readiness condition, such as the watch cache having listed once. */
  isReady?: () => boolean;
  /**
   * Rollouts reconciled at once (default 16). Each reconcile mostly waits on
   * Prometheus and the API server, so one at a time cannot keep 1,000 rollouts
   * within their interval; a rollout is never reconciled twice at once.
   */
  concurrency?: number;
}

/** The first retry after a failed reconcile; it doubles per failure up to the rollout's interval. */
const BACKOFF_MS = 500;

/**
 * Runs reconcile for every rollout, each on its own analysis interval, and
 * serves the controller's HTTP endpoints. `metrics` is the recorder the
 * providers were given too.
 */
export class ControllerLoop {
  private readonly due = new Map<string, number>();
  /** Consecutive failed reconciles per rollout, for the backoff. */
  private readonly failures = new Map<string, number>();
  /** Invalid rollouts already reported, with the reason reported (a new reason is reported again). */
  private readonly reported = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private server: http.Server | undefined;
  private running: Promise<void> | undefined;
  private lastRoundOk = false;

  constructor(
    private readonly parts: ControllerParts,
    private readonly options: LoopOptions = {},
    readonly metrics = new ControllerMetrics(),
  ) {
    this.parts.unwritten ??= new UnwrittenDecisions();
    this.parts.isLeader ??= () => this.options.isLeader?.() ?? true;
  }

  /** Serves /metrics, /healthz, /readyz and POST /alertmanager/webhook; resolves with the port. */
  async listen(port: number, host = '127.0.0.1'): Promise<number> {
    const text = () => metricsReply(this.metrics.registry);
    const routes: Route[] = [
      { method: ['GET', 'HEAD'], path: '/metrics', name: 'metrics', handler: text },
      {
        method: ['GET', 'HEAD'],
        path: '/healthz',
        name: 'healthz',
        handler: () => ({ status: 200, body: { ok: true } }),
      },
      {
        method: ['GET', 'HEAD'],
        path: '/readyz',
        name: 'readyz',
        handler: () => {
          const ready = this.lastRoundOk && (this.options.isReady?.() ?? true);
          return { status: ready ? 200 : 503, body: { ready, leader: this.options.isLeader?.() ?? true } };
        },
      },
      {
        method: 'POST',
        path: '/alertmanager/webhook',
        name: 'webhook',
        handler: alertmanagerWebhook(this.parts.store, this.parts.log, this.options.webhookToken),
      },
    ];
    this.server = createServer({
      routes,
      log: this.parts.log,
      hint: 'see /metrics, /healthz, /readyz, POST /alertmanager/webhook',
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => resolve());
    });
    return (this.server.address() as AddressInfo).port;
  }

  start(): void {
    const tick = () => {
      this.running = this.round().finally(() => {
        if (this.timer !== undefined) this.timer = setTimeout(tick, 500);
      });
    };
    this.timer = setTimeout(tick, 0);
  }

  /** Stops after the reconcile in progress, if any, and closes the HTTP server. */
  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
    if (this.server) {
      const closed = new Promise((resolve) => this.server!.close(resolve));
      this.server.closeIdleConnections();
      await closed;
    }
  }

  private async round(): Promise<void> {
    const leading = this.options.isLeader?.() ?? true;
    this.metrics.leader(leading);
    let listing;
    try {
      listing = await this.parts.store.list();
    } catch (err) {
      this.parts.log.error('cannot list rollouts', { err: err instanceof Error ? err.message : String(err) });
      this.lastRoundOk = false;
      return;
    }
    this.lastRoundOk = true;
    await this.reportInvalid(listing.invalid, leading);
    if (!leading) {
      this.due.clear();
      this.failures.clear();
      return;
    }
    const now = Date.now();
    const owners = routeOwners(listing.rollouts, this.parts.namespace);
    // Due once per analysis interval, finished rollouts included (their routes are held
    // where status says); a new command is applied at once, unless the rollout is backing off.
    const due = listing.rollouts.filter(
      ({ key, commands }) => (this.due.get(key) ?? 0) <= now || (commands.length > 0 && !this.failures.has(key)),
    );
    if (due.length === 0) return;
    const started = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < due.length) {
        if (!(this.options.isLeader?.() ?? true)) return;
        const stored = due[next++]!;
        if ((await this.reconcileOne(stored, owners.get(stored.key), now)) === 'not-leader') return;
      }
    };
    await Promise.all(Array.from({ length: Math.min(due.length, this.options.concurrency ?? 16) }, worker));
    this.metrics.round(due.length, (performance.now() - started) / 1000);
  }

  /** One due rollout: reconcile, then its backoff or next due time, its metrics and any RouteWriteFailed Event. */
  private async reconcileOne(
    { key, rollout }: StoredRollout,
    owner: string | undefined,
    now: number,
  ): Promise<'done' | 'not-leader'> {
    const interval = parseDuration(rollout.spec.analysis.interval);
    let result: ReconcileResult | undefined;
    try {
      result = await reconcile(this.parts, key, owner ? { routeOwner: owner } : {});
    } catch (err) {
      if (err instanceof NotLeaderError) return 'not-leader';
      // The route could not even be read: nobody can say it carries what status calls for.
      this.metrics.routeInSync(key, rollout, false);
      this.parts.log.error('reconcile failed; retrying with backoff', {
        rollout: key,
        err: err instanceof Error ? err.message : String(err),
      });
    }
    // Unroutable and waiting rollouts back off too: their pending commands must not make them spin every tick.
    const failed =
      !result ||
      result.unroutable !== undefined ||
      result.routeFailure !== undefined ||
      result.statusFailure !== undefined;
    this.metrics.reconciled(key, !result ? 'error' : result.unroutable ? 'unroutable' : failed ? 'failed' : 'ok', {
      route: result?.routeFailure !== undefined,
      status: result?.statusFailure !== undefined,
    });
    if (result?.routedAfterMs !== undefined) this.metrics.routedAfter(result.routedAfterMs / 1000);
    if (failed) {
      const count = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, count);
      this.due.set(key, Date.now() + backoffMs(count - 1, BACKOFF_MS, interval));
      if (count === 1 && result?.routeFailure) {
        await this.parts.events?.record(
          rollout,
          'Warning',
          'RouteWriteFailed',
          `cannot set the route to what status calls for; retrying with backoff: ${result.routeFailure}`,
        );
      }
    } else {
      this.failures.delete(key);
      this.due.set(key, now + interval);
    }
    if (result?.decision) {
      if (!owner) this.metrics.routeInSync(key, rollout, result.routeFailure === undefined);
      this.metrics.decided(key, rollout, result.decision, !owner && result.routeFailure === undefined);
    }
    return 'done';
  }

  /** An invalid rollout: a log line and an Event once per reason, and a gauge while it lasts. */
  private async reportInvalid(invalid: InvalidRollout[], leading: boolean): Promise<void> {
    this.metrics.invalid(invalid.map((i) => i.key));
    const now = new Set(invalid.map((i) => i.key));
    for (const key of this.reported.keys()) if (!now.has(key)) this.reported.delete(key);
    for (const { key, reason, metadata } of invalid) {
      if (this.reported.get(key) === reason) continue;
      this.reported.set(key, reason);
      this.parts.log.warn('rollout is invalid; skipping it until it is fixed (the others carry on)', {
        rollout: key,
        reason,
      });
      if (leading && metadata)
        await this.parts.events?.record(
          { apiVersion: 'weir.dev/v1alpha1', kind: 'ModelRollout', metadata },
          'Warning',
          'InvalidRollout',
          reason,
        );
    }
  }
}
