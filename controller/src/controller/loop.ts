// The controller process: reconciles every rollout in the store on its own
// analysis interval, and serves /metrics, /healthz and /readyz.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import client from 'prom-client';
import { parseDuration } from '../../../predictor/src/duration.js';
import { reconcile, type ControllerParts } from './reconcile.js';

const TERMINAL = ['Promoted', 'RolledBack', 'Failed'];

export class ControllerLoop {
  readonly registry = new client.Registry();
  private readonly reconciles = new client.Counter({ name: 'weir_controller_reconciles_total', help: 'Reconciles by result (ok, error)', labelNames: ['rollout', 'result'], registers: [this.registry] });
  private readonly weight = new client.Gauge({ name: 'weir_rollout_canary_weight', help: 'Canary weight applied, percent', labelNames: ['rollout'], registers: [this.registry] });
  private readonly phase = new client.Gauge({ name: 'weir_rollout_phase', help: '1 for the phase a rollout is in', labelNames: ['rollout', 'phase'], registers: [this.registry] });
  private readonly due = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private server: http.Server | undefined;
  private running: Promise<void> | undefined;
  private lastRoundOk = false;

  constructor(private readonly parts: ControllerParts) {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'weir_controller_' });
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
    let ok = true;
    let rollouts;
    try {
      rollouts = await this.parts.store.list();
    } catch (err) {
      this.parts.log.error('cannot list rollouts', { err });
      this.lastRoundOk = false;
      return;
    }
    const now = Date.now();
    for (const { rollout, commands } of rollouts) {
      const name = rollout.metadata.name;
      // A finished rollout only needs attention when someone gave it a command (retry).
      if (TERMINAL.includes(rollout.status!.phase) && commands.length === 0) continue;
      if ((this.due.get(name) ?? 0) > now) continue;
      this.due.set(name, now + parseDuration(rollout.spec.analysis.interval));
      try {
        const decision = await reconcile(this.parts, name);
        this.reconciles.inc({ rollout: name, result: 'ok' });
        this.weight.set({ rollout: name }, decision.canaryWeight);
        this.phase.reset();
        this.phase.set({ rollout: name, phase: decision.statusPatch.phase }, 1);
      } catch (err) {
        ok = false;
        this.reconciles.inc({ rollout: name, result: 'error' });
        this.parts.log.error('reconcile failed; retrying next interval', { rollout: name, err });
      }
    }
    this.lastRoundOk = ok;
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
      res.writeHead(this.lastRoundOk ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ready: this.lastRoundOk }));
    } else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":"see /metrics, /healthz, /readyz"}');
    }
  }
}
