// The controller process: reconciles every rollout in the store on its own
// analysis interval, and serves /metrics, /healthz and /readyz.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import client from 'prom-client';
import { parseDuration } from '../../../predictor/src/duration.js';
import { phases } from '../api/schema.js';
import { reconcile, type ControllerParts } from './reconcile.js';

export interface LoopOptions {
  /** Only act when this says so (leader election); default always. */
  isLeader?: () => boolean;
  /** Extra readiness condition, such as the watch cache having listed once. */
  isReady?: () => boolean;
}

const TERMINAL = ['Promoted', 'RolledBack', 'Failed'];

export class ControllerLoop {
  readonly registry = new client.Registry();
  private readonly reconciles = new client.Counter({ name: 'weir_controller_reconciles_total', help: 'Reconciles by result (ok, unroutable, error)', labelNames: ['rollout', 'result'], registers: [this.registry] });
  private readonly weight = new client.Gauge({ name: 'weir_rollout_canary_weight', help: 'Canary weight applied, percent', labelNames: ['rollout'], registers: [this.registry] });
  private readonly phase = new client.Gauge({ name: 'weir_rollout_phase', help: '1 for the phase a rollout is in', labelNames: ['rollout', 'phase'], registers: [this.registry] });
  private readonly queries = new client.Counter({ name: 'weir_controller_metric_queries_total', help: 'Prometheus queries by result (ok, error)', labelNames: ['result'], registers: [this.registry] });
  private readonly stageStarted = new client.Gauge({ name: 'weir_rollout_stage_started_timestamp_seconds', help: 'When the current stage began', labelNames: ['rollout'], registers: [this.registry] });
  private readonly deadline = new client.Gauge({ name: 'weir_rollout_deadline_timestamp_seconds', help: 'When the rollout reaches maxDuration (startedAt + maxDuration)', labelNames: ['rollout'], registers: [this.registry] });
  private readonly leader = new client.Gauge({ name: 'weir_controller_leader', help: '1 while this replica is the one that acts', registers: [this.registry] });
  private readonly due = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private server: http.Server | undefined;
  private running: Promise<void> | undefined;
  private lastRoundOk = false;

  constructor(
    private readonly parts: ControllerParts,
    private readonly options: LoopOptions = {},
  ) {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'weir_controller_' });
  }

  /** Counts one round of Prometheus queries (wired to PrometheusMetrics' onQueries). */
  recordQueries(ok: number, failed: number): void {
    if (ok) this.queries.inc({ result: 'ok' }, ok);
    if (failed) this.queries.inc({ result: 'error' }, failed);
  }

  async listen(port: number, host = '127.0.0.1'): Promise<number> {
    this.server = http.createServer((req, res) => void this.serve(req, res));
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
    await new Promise((resolve) => (this.server ? this.server.close(resolve) : resolve(undefined)));
  }

  private async round(): Promise<void> {
    const leading = this.options.isLeader?.() ?? true;
    this.leader.set(leading ? 1 : 0);
    let rollouts;
    try {
      rollouts = await this.parts.store.list();
    } catch (err) {
      this.parts.log.error('cannot list rollouts', { err });
      this.lastRoundOk = false;
      return;
    }
    this.lastRoundOk = true;
    if (!leading) {
      this.due.clear();
      return;
    }
    const now = Date.now();
    for (const { key, rollout, commands } of rollouts) {
      // A finished rollout only needs attention when someone gave it a command (retry).
      if (TERMINAL.includes(rollout.status!.phase) && commands.length === 0) continue;
      // A new command is applied at once; otherwise once per analysis interval.
      if (commands.length === 0 && (this.due.get(key) ?? 0) > now) continue;
      if (!(this.options.isLeader?.() ?? true)) return;
      this.due.set(key, now + parseDuration(rollout.spec.analysis.interval));
      try {
        const decision = await reconcile(this.parts, key);
        this.reconciles.inc({ rollout: key, result: decision ? 'ok' : 'unroutable' });
        if (!decision) continue;
        this.weight.set({ rollout: key }, decision.canaryWeight);
        for (const phase of phases) this.phase.set({ rollout: key, phase }, phase === decision.statusPatch.phase ? 1 : 0);
        const { stageStartedAt, startedAt } = decision.statusPatch;
        if (stageStartedAt) this.stageStarted.set({ rollout: key }, Date.parse(stageStartedAt) / 1000);
        if (startedAt) this.deadline.set({ rollout: key }, (Date.parse(startedAt) + parseDuration(rollout.spec.strategy.maxDuration)) / 1000);
      } catch (err) {
        this.reconciles.inc({ rollout: key, result: 'error' });
        this.parts.log.error('reconcile failed; retrying next interval', { rollout: key, err: err instanceof Error ? err.message : err });
      }
    }
  }

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = (req.url ?? '/').split('?')[0];
    if (url === '/metrics') {
      res.writeHead(200, { 'content-type': this.registry.contentType });
      res.end(await this.registry.metrics());
    } else if (url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    } else if (url === '/readyz') {
      const ready = this.lastRoundOk && (this.options.isReady?.() ?? true);
      res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ready, leader: this.options.isLeader?.() ?? true }));
    } else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":"see /metrics, /healthz, /readyz"}');
    }
  }
}
