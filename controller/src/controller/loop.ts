// The controller process: reconciles every rollout in the store on its own
// analysis interval, and serves /metrics, /healthz and /readyz.
import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import client from 'prom-client';
import { parseDuration } from '../../../predictor/src/duration.js';
import { phases, type ModelRollout } from '../api/schema.js';
import type { Decision } from '../engine/types.js';
import { reconcile, type ControllerParts } from './reconcile.js';

export interface LoopOptions {
  /** Bearer token Alertmanager's webhook must send to POST /alertmanager/webhook; unset: the endpoint is off. */
  webhookToken?: string;
  /** Only act when this says so (leader election); default always. */
  isLeader?: () => boolean;
  /** Extra readiness condition, such as the watch cache having listed once. */
  isReady?: () => boolean;
}

const TERMINAL = ['Promoted', 'RolledBack', 'Failed'];
/** Every rollout series: the store's key, the rollout's namespace and its model (dashboards filter on them). */
const ROLLOUT_LABELS = ['rollout', 'rollout_namespace', 'model'];
const WEBHOOK_MAX_BYTES = 1 << 20;

export class ControllerLoop {
  readonly registry = new client.Registry();
  private readonly reconciles = new client.Counter({ name: 'weir_controller_reconciles_total', help: 'Reconciles by result (ok, unroutable, error)', labelNames: ['rollout', 'result'], registers: [this.registry] });
  private readonly weight = new client.Gauge({ name: 'weir_rollout_canary_weight', help: 'Canary weight applied, percent', labelNames: ROLLOUT_LABELS, registers: [this.registry] });
  private readonly phase = new client.Gauge({ name: 'weir_rollout_phase', help: '1 for the phase a rollout is in', labelNames: [...ROLLOUT_LABELS, 'phase'], registers: [this.registry] });
  private readonly queries = new client.Counter({ name: 'weir_controller_metric_queries_total', help: 'Prometheus queries by result (ok, error)', labelNames: ['result'], registers: [this.registry] });
  private readonly routeWrites = new client.Counter({ name: 'weir_controller_route_writes_total', help: 'VirtualService writes by this replica', registers: [this.registry] });
  private readonly stageStarted = new client.Gauge({ name: 'weir_rollout_stage_started_timestamp_seconds', help: 'When the current stage began', labelNames: ROLLOUT_LABELS, registers: [this.registry] });
  private readonly deadline = new client.Gauge({ name: 'weir_rollout_deadline_timestamp_seconds', help: 'When the rollout reaches maxDuration (startedAt + maxDuration)', labelNames: ROLLOUT_LABELS, registers: [this.registry] });
  private readonly leader = new client.Gauge({ name: 'weir_controller_leader', help: '1 while this replica is the one that acts', registers: [this.registry] });
  private readonly verdict = new client.Gauge({ name: 'weir_rollout_analysis_verdict', help: '1 for the verdict each guardrail and comparison got at the last analysis', labelNames: [...ROLLOUT_LABELS, 'kind', 'metric', 'verdict'], registers: [this.registry] });
  private readonly effect = new client.Gauge({ name: 'weir_rollout_comparison_effect', help: 'Canary − stable estimate of each comparison at the last analysis, with its confidence interval (bound="estimate", "lower", "upper")', labelNames: [...ROLLOUT_LABELS, 'metric', 'bound'], registers: [this.registry] });
  private readonly pValue = new client.Gauge({ name: 'weir_rollout_comparison_p_value', help: 'Adjusted p-value of each comparison at the last analysis (always-valid for mSPRT)', labelNames: [...ROLLOUT_LABELS, 'metric'], registers: [this.registry] });
  /** The verdict series each rollout's metrics have now, so a changed verdict replaces the old one. */
  private readonly verdictSeries = new Map<string, client.LabelValues<string>[]>();
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

  /** Counts one VirtualService write (wired to IstioRouter's onWrite). */
  recordRouteWrite(): void {
    this.routeWrites.inc();
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
      // A finished rollout only needs attention when someone gave it a command (retry);
      // its alert (rolled back) is kept fresh in Alertmanager until then.
      if (TERMINAL.includes(rollout.status!.phase) && commands.length === 0) {
        if ((this.due.get(key) ?? 0) <= now && this.parts.notifier) {
          this.due.set(key, now + parseDuration(rollout.spec.analysis.interval));
          const status = rollout.status!;
          await this.parts.notifier.notify({ rollout, action: 'hold', summary: status.message ?? status.phase, status, stepChanged: false, metricsUnavailable: false }).catch((err: unknown) => this.parts.log.warn('notification failed', { rollout: key, err }));
        }
        continue;
      }
      // A new command is applied at once; otherwise once per analysis interval.
      if (commands.length === 0 && (this.due.get(key) ?? 0) > now) continue;
      if (!(this.options.isLeader?.() ?? true)) return;
      this.due.set(key, now + parseDuration(rollout.spec.analysis.interval));
      try {
        const decision = await reconcile(this.parts, key);
        this.reconciles.inc({ rollout: key, result: decision ? 'ok' : 'unroutable' });
        if (!decision) continue;
        this.export(key, rollout, decision);
      } catch (err) {
        this.reconciles.inc({ rollout: key, result: 'error' });
        this.parts.log.error('reconcile failed; retrying next interval', { rollout: key, err: err instanceof Error ? err.message : err });
      }
    }
  }

  /** The rollout's gauges after a decision: weight, phase, stage times, verdicts and comparison estimates. */
  private export(key: string, rollout: ModelRollout, decision: Decision): void {
    const labels = { rollout: key, rollout_namespace: rollout.metadata.namespace ?? '', model: rollout.spec.model };
    this.weight.set(labels, decision.canaryWeight);
    for (const phase of phases) this.phase.set({ ...labels, phase }, phase === decision.statusPatch.phase ? 1 : 0);
    const { stageStartedAt, startedAt } = decision.statusPatch;
    if (stageStartedAt) this.stageStarted.set(labels, Date.parse(stageStartedAt) / 1000);
    if (startedAt) this.deadline.set(labels, (Date.parse(startedAt) + parseDuration(rollout.spec.strategy.maxDuration)) / 1000);
    const judged = decision.reasons.filter((r) => (r.kind === 'guardrail' || r.kind === 'comparison') && r.metric);
    // Only a decision that judged metrics replaces the verdicts (a command-only round judges none).
    if (judged.length === 0) return;
    for (const old of this.verdictSeries.get(key) ?? []) this.verdict.remove(old);
    const series = judged.map((r) => ({ ...labels, kind: r.kind, metric: r.metric!, verdict: r.verdict }));
    for (const s of series) this.verdict.set(s, 1);
    this.verdictSeries.set(key, series);
    for (const r of judged) {
      if (r.kind !== 'comparison' || r.effect === undefined || !r.ci) continue;
      const metric = { ...labels, metric: r.metric! };
      this.effect.set({ ...metric, bound: 'estimate' }, r.effect);
      this.effect.set({ ...metric, bound: 'lower' }, r.ci[0]!);
      this.effect.set({ ...metric, bound: 'upper' }, r.ci[1]!);
      if (r.adjustedPValue !== undefined) this.pValue.set(metric, r.adjustedPValue);
    }
  }

  /**
   * Alertmanager's webhook: a firing alert whose name a rollout lists in
   * spec.notifications.abortOnAlert, and whose version label is that rollout's
   * canary, records an abort (applied at the next tick, within a second).
   */
  private async webhook(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const reply = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const token = this.options.webhookToken;
    if (!token) return reply(404, { error: 'the webhook is off: start the controller with WEIR_WEBHOOK_TOKEN set' });
    if (req.method !== 'POST') return reply(405, { error: 'POST an Alertmanager webhook payload' });
    const given = Buffer.from(req.headers.authorization ?? '');
    const expected = Buffer.from(`Bearer ${token}`);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return reply(401, { error: 'missing or wrong bearer token' });
    let text = '';
    for await (const chunk of req) {
      text += (chunk as Buffer).toString();
      if (text.length > WEBHOOK_MAX_BYTES) return reply(413, { error: `payload above ${WEBHOOK_MAX_BYTES} bytes` });
    }
    let payload: { alerts?: { status?: string; labels?: Record<string, string> }[] };
    try {
      payload = JSON.parse(text) as typeof payload;
    } catch {
      return reply(400, { error: 'body is not JSON' });
    }
    if (!Array.isArray(payload.alerts)) return reply(400, { error: 'alerts: expected an array (Alertmanager webhook payload)' });
    const aborted: string[] = [];
    const rollouts = await this.parts.store.list();
    for (const alert of payload.alerts) {
      const labels = alert.labels ?? {};
      if (alert.status !== 'firing' || !labels.alertname) continue;
      for (const { key, rollout } of rollouts) {
        const { spec } = rollout;
        if (!spec.notifications?.abortOnAlert.includes(labels.alertname)) continue;
        if ((labels.version ?? labels.canary) !== spec.canary.version) continue;
        if (labels.model && labels.model !== spec.model) continue;
        if (labels.namespace && rollout.metadata.namespace && labels.namespace !== rollout.metadata.namespace) continue;
        if (TERMINAL.includes(rollout.status!.phase) || aborted.includes(key)) continue;
        await this.parts.store.addCommand(key, { type: 'abort', by: `alertmanager:${labels.alertname}`, at: new Date().toISOString() });
        aborted.push(key);
        this.parts.log.warn('abort requested by an alert', { rollout: key, alert: labels.alertname, version: spec.canary.version });
      }
    }
    reply(200, { aborted });
  }

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = (req.url ?? '/').split('?')[0];
    if (url === '/metrics') {
      res.writeHead(200, { 'content-type': this.registry.contentType });
      res.end(await this.registry.metrics());
    } else if (url === '/alertmanager/webhook') {
      await this.webhook(req, res);
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
