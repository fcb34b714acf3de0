// The controller process: reconciles every rollout in the store on its own
// analysis interval (finished ones too: their routes are held at 0% or 100%),
// retries a failed reconcile with backoff, reports rollouts it cannot use
// without letting them block the others, and serves /metrics, /healthz,
// /readyz and Alertmanager's webhook. No request can stop the process.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import client from 'prom-client';
import { z } from 'zod';
import { parseDuration } from '../../../predictor/src/duration.js';
import { RequestError } from '../../../predictor/src/errors.js';
import {
  bearerMatches,
  ClientAbortedError,
  isOriginForm,
  pathOf,
  readBody,
  refuseTunnels,
  sendJson as reply,
} from '../../../predictor/src/http.js';
import { isFinished, phases, type ModelRollout } from '../api/schema.js';
import type { Decision } from '../engine/types.js';
import { CommandRefusedError, type InvalidRollout } from '../providers/types.js';
import { routeOwners } from './ownership.js';
import { NotLeaderError, reconcile, type ControllerParts, type ReconcileResult } from './reconcile.js';
import { UnwrittenDecisions } from './unwritten.js';

export interface LoopOptions {
  /** Bearer token Alertmanager's webhook must send to POST /alertmanager/webhook; unset: the endpoint is off. */
  webhookToken?: string;
  /** Only act when this says so (leader election); default always. */
  isLeader?: () => boolean;
  /** Extra readiness condition, such as the watch cache having listed once. */
  isReady?: () => boolean;
}

/** Every rollout series: the store's key, the rollout's namespace and its model (dashboards filter on them). */
const ROLLOUT_LABELS = ['rollout', 'rollout_namespace', 'model'];
const WEBHOOK_MAX_BYTES = 1 << 20;
/** The first retry after a failed reconcile; it doubles per failure up to the rollout's interval. */
const BACKOFF_MS = 500;

/** Alertmanager's webhook payload (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config), the part weir reads. */
const webhookPayload = z.object({
  alerts: z
    .array(
      z.object({
        status: z.string().max(32),
        labels: z.record(z.string().max(1024), z.string().max(4096)).default({}),
      }),
    )
    .max(10_000),
});

export class ControllerLoop {
  readonly registry = new client.Registry();
  private readonly reconciles = new client.Counter({
    name: 'weir_controller_reconciles_total',
    help: 'Reconciles by result (ok, unroutable, error)',
    labelNames: ['rollout', 'result'],
    registers: [this.registry],
  });
  private readonly weight = new client.Gauge({
    name: 'weir_rollout_canary_weight',
    help: 'Canary weight applied, percent',
    labelNames: ROLLOUT_LABELS,
    registers: [this.registry],
  });
  private readonly phase = new client.Gauge({
    name: 'weir_rollout_phase',
    help: '1 for the phase a rollout is in',
    labelNames: [...ROLLOUT_LABELS, 'phase'],
    registers: [this.registry],
  });
  private readonly queries = new client.Counter({
    name: 'weir_controller_metric_queries_total',
    help: 'Prometheus queries by result (ok, error)',
    labelNames: ['result'],
    registers: [this.registry],
  });
  private readonly routeWrites = new client.Counter({
    name: 'weir_controller_route_writes_total',
    help: 'VirtualService writes by this replica',
    registers: [this.registry],
  });
  private readonly routeWriteFailures = new client.Counter({
    name: 'weir_controller_route_write_failures_total',
    help: 'Route writes that failed (retried with backoff)',
    labelNames: ['rollout'],
    registers: [this.registry],
  });
  private readonly statusWriteFailures = new client.Counter({
    name: 'weir_controller_status_write_failures_total',
    help: 'Status writes that failed (a rollback still takes traffic off the canary)',
    labelNames: ['rollout'],
    registers: [this.registry],
  });
  private readonly routeSynced = new client.Gauge({
    name: 'weir_rollout_route_synced',
    help: "1 when the route carries what the rollout's status calls for, 0 while it cannot be written",
    labelNames: ROLLOUT_LABELS,
    registers: [this.registry],
  });
  private readonly invalidRollouts = new client.Gauge({
    name: 'weir_controller_invalid_rollouts',
    help: '1 per rollout the controller skips because its file, spec or status is invalid',
    labelNames: ['rollout'],
    registers: [this.registry],
  });
  private readonly stageStarted = new client.Gauge({
    name: 'weir_rollout_stage_started_timestamp_seconds',
    help: 'When the current stage began',
    labelNames: ROLLOUT_LABELS,
    registers: [this.registry],
  });
  private readonly deadline = new client.Gauge({
    name: 'weir_rollout_deadline_timestamp_seconds',
    help: 'When the rollout reaches maxDuration (startedAt + maxDuration)',
    labelNames: ROLLOUT_LABELS,
    registers: [this.registry],
  });
  private readonly leader = new client.Gauge({
    name: 'weir_controller_leader',
    help: '1 while this replica is the one that acts',
    registers: [this.registry],
  });
  private readonly verdict = new client.Gauge({
    name: 'weir_rollout_analysis_verdict',
    help: '1 for the verdict each guardrail and comparison got at the last analysis',
    labelNames: [...ROLLOUT_LABELS, 'kind', 'metric', 'verdict'],
    registers: [this.registry],
  });
  private readonly effect = new client.Gauge({
    name: 'weir_rollout_comparison_effect',
    help: 'Canary − stable estimate of each comparison at the last analysis, with its confidence interval (bound="estimate", "lower", "upper")',
    labelNames: [...ROLLOUT_LABELS, 'metric', 'bound'],
    registers: [this.registry],
  });
  private readonly pValue = new client.Gauge({
    name: 'weir_rollout_comparison_p_value',
    help: 'Adjusted p-value of each comparison at the last analysis (always-valid for mSPRT)',
    labelNames: [...ROLLOUT_LABELS, 'metric'],
    registers: [this.registry],
  });
  /** The verdict series each rollout's metrics have now, so a changed verdict replaces the old one. */
  private readonly verdictSeries = new Map<string, client.LabelValues<string>[]>();
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
  ) {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'weir_controller_' });
    this.parts.unwritten ??= new UnwrittenDecisions();
    this.parts.isLeader ??= () => this.options.isLeader?.() ?? true;
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
    this.server = refuseTunnels(
      http.createServer({ requestTimeout: 30_000, headersTimeout: 10_000 }, (req, res) => {
        this.serve(req, res).catch((err: unknown) => {
          if (err instanceof ClientAbortedError) return;
          if (err instanceof RequestError) return reply(res, err.status, { error: err.message }, err.headers);
          this.parts.log.error('request failed', {
            url: pathOf(req.url).slice(0, 200),
            err: err instanceof Error ? err.message : String(err),
          });
          reply(res, 500, { error: 'internal error; see the controller log' });
        });
      }),
    );
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
    for (const { key, rollout, commands } of listing.rollouts) {
      // Due once per analysis interval, finished rollouts included (their routes are held
      // where status says); a new command is applied at once, unless the rollout is backing off.
      const due = this.due.get(key) ?? 0;
      if (due > now && (commands.length === 0 || this.failures.has(key))) continue;
      if (!(this.options.isLeader?.() ?? true)) return;
      const interval = parseDuration(rollout.spec.analysis.interval);
      const labels = { rollout: key, rollout_namespace: rollout.metadata.namespace ?? '', model: rollout.spec.model };
      const owner = owners.get(key);
      let result: ReconcileResult | undefined;
      try {
        result = await reconcile(this.parts, key, owner ? { routeOwner: owner } : {});
      } catch (err) {
        if (err instanceof NotLeaderError) return;
        // The route could not even be read: nobody can say it carries what status calls for.
        this.routeSynced.set(labels, 0);
        this.parts.log.error('reconcile failed; retrying with backoff', {
          rollout: key,
          err: err instanceof Error ? err.message : String(err),
        });
      }
      if (result?.routeFailure) this.routeWriteFailures.inc({ rollout: key });
      if (result?.statusFailure) this.statusWriteFailures.inc({ rollout: key });
      // Unroutable and waiting rollouts back off too: their pending commands must not make them spin every tick.
      const failed =
        !result ||
        result.unroutable !== undefined ||
        result.routeFailure !== undefined ||
        result.statusFailure !== undefined;
      this.reconciles.inc({
        rollout: key,
        result: !result ? 'error' : result.unroutable ? 'unroutable' : failed ? 'failed' : 'ok',
      });
      if (failed) {
        const count = (this.failures.get(key) ?? 0) + 1;
        this.failures.set(key, count);
        this.due.set(key, Date.now() + Math.min(interval, BACKOFF_MS * 2 ** (count - 1)));
        if (count === 1 && result?.routeFailure)
          await this.parts.events?.record(
            rollout,
            'Warning',
            'RouteWriteFailed',
            `cannot set the route to what status calls for; retrying with backoff: ${result.routeFailure}`,
          );
      } else {
        this.failures.delete(key);
        this.due.set(key, now + interval);
      }
      if (result?.decision) {
        if (!owner) this.routeSynced.set(labels, result.routeFailure ? 0 : 1);
        this.export(key, rollout, result.decision, !owner && result.routeFailure === undefined);
      }
    }
  }

  /** An invalid rollout: a log line and an Event once per reason, and a gauge while it lasts. */
  private async reportInvalid(invalid: InvalidRollout[], leading: boolean): Promise<void> {
    this.invalidRollouts.reset();
    const now = new Set(invalid.map((i) => i.key));
    for (const key of this.reported.keys()) if (!now.has(key)) this.reported.delete(key);
    for (const { key, reason, metadata } of invalid) {
      this.invalidRollouts.set({ rollout: key }, 1);
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

  /** The rollout's gauges after a decision: weight, phase, stage times, verdicts and comparison estimates. */
  private export(key: string, rollout: ModelRollout, decision: Decision, applied: boolean): void {
    const labels = { rollout: key, rollout_namespace: rollout.metadata.namespace ?? '', model: rollout.spec.model };
    if (applied) this.weight.set(labels, decision.canaryWeight);
    for (const phase of phases) this.phase.set({ ...labels, phase }, phase === decision.statusPatch.phase ? 1 : 0);
    const { stageStartedAt, startedAt } = decision.statusPatch;
    if (stageStartedAt) this.stageStarted.set(labels, Date.parse(stageStartedAt) / 1000);
    if (startedAt)
      this.deadline.set(labels, (Date.parse(startedAt) + parseDuration(rollout.spec.strategy.maxDuration)) / 1000);
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
    const token = this.options.webhookToken;
    if (!token)
      return reply(res, 404, { error: 'the webhook is off: start the controller with WEIR_WEBHOOK_TOKEN set' });
    if (req.method !== 'POST')
      return reply(res, 405, { error: 'POST an Alertmanager webhook payload' }, { allow: 'POST' });
    if (!bearerMatches(req.headers.authorization, token))
      return reply(res, 401, { error: 'missing or wrong bearer token' }, { 'www-authenticate': 'Bearer' });
    const text = (await readBody(req, WEBHOOK_MAX_BYTES)).toString('utf8');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      return reply(res, 400, { error: `body: not JSON (${(err as Error).message})` });
    }
    const parsed = webhookPayload.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return reply(res, 400, {
        error: `${['body', ...issue.path.map(String)].join('.')}: ${issue.message}; expected an Alertmanager webhook payload {"alerts": [{"status", "labels"}]}`,
      });
    }
    const aborted: string[] = [];
    const failed: { rollout: string; error: string }[] = [];
    const { rollouts } = await this.parts.store.list();
    for (const alert of parsed.data.alerts) {
      const labels = new Map(Object.entries(alert.labels));
      const alertname = labels.get('alertname');
      if (alert.status !== 'firing' || !alertname) continue;
      for (const { key, rollout, commands } of rollouts) {
        const { spec } = rollout;
        if (!spec.notifications?.abortOnAlert.includes(alertname)) continue;
        if ((labels.get('version') ?? labels.get('canary')) !== spec.canary.version) continue;
        if (labels.has('model') && labels.get('model') !== spec.model) continue;
        const namespace = labels.get('namespace');
        if (namespace && rollout.metadata.namespace && namespace !== rollout.metadata.namespace) continue;
        // Finished, or an abort already waits: Alertmanager repeats firing alerts, and each must not become a command.
        if (isFinished(rollout.status!.phase) || aborted.includes(key) || commands.some((c) => c.type === 'abort'))
          continue;
        // One rollout's failure (its store refuses, it was deleted) must not keep the others from being aborted.
        try {
          await this.parts.store.addCommand(key, {
            type: 'abort',
            by: `alertmanager:${alertname}`.slice(0, 256),
            at: new Date().toISOString(),
          });
          aborted.push(key);
          this.parts.log.warn('abort requested by an alert', {
            rollout: key,
            alert: alertname,
            version: spec.canary.version,
          });
        } catch (err) {
          if (err instanceof CommandRefusedError) continue; // it finished meanwhile; the refusal is recorded
          failed.push({ rollout: key, error: err instanceof Error ? err.message : String(err) });
          this.parts.log.error('cannot record an abort requested by an alert', {
            rollout: key,
            alert: alertname,
            err: err instanceof Error ? err.message : String(err),
          });
        }
      }
    }
    // Alertmanager retries a webhook that failed: a 503 after every other abort was recorded makes it try the failed ones again.
    if (failed.length > 0)
      return reply(
        res,
        503,
        { aborted, failed, error: `${failed.length} abort(s) could not be recorded; Alertmanager will retry` },
        { 'retry-after': '5' },
      );
    reply(res, 200, { aborted });
  }

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const target = req.url ?? '/';
    if (!isOriginForm(target))
      return reply(res, 400, {
        error: `request target ${JSON.stringify(target.slice(0, 200))}: expected a path such as /metrics`,
      });
    const url = pathOf(target);
    if (url === '/alertmanager/webhook') return this.webhook(req, res);
    const known = ['/metrics', '/healthz', '/readyz'];
    if (!known.includes(url))
      return reply(res, 404, { error: `no route ${url}; see /metrics, /healthz, /readyz, POST /alertmanager/webhook` });
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return reply(res, 405, { error: `${req.method} is not allowed on ${url}; use GET` }, { allow: 'GET, HEAD' });
    if (url === '/metrics') {
      const text = await this.registry.metrics();
      res.writeHead(200, { 'content-type': this.registry.contentType, 'content-length': Buffer.byteLength(text) });
      res.end(req.method === 'HEAD' ? undefined : text);
    } else if (url === '/healthz') {
      reply(res, 200, { ok: true });
    } else {
      const ready = this.lastRoundOk && (this.options.isReady?.() ?? true);
      reply(res, ready ? 200 : 503, { ready, leader: this.options.isLeader?.() ?? true });
    }
  }
}
