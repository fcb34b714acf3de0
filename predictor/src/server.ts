// The predictor's HTTP server: Open Inference Protocol v2 REST (as KServe,
// Triton and MLServer speak it), Triton's repository load/unload, ground-truth
// feedback and /metrics. It never dies on a bad request, and on SIGTERM it
// stops taking connections, finishes what is in flight, then exits.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Batcher } from './batcher.js';
import { PredictionCache, cacheKey } from './cache.js';
import { RequestError } from './errors.js';
import { bearerMatches, ClientAbortedError, decodeSegment, isOriginForm, readBody, refuseTunnels } from './http.js';
import { PredictionStore, REJECTION_STATUS, decodeFeedback, type ScoredRow } from './feedback.js';
import type { Logger } from './log.js';
import { PredictorMetrics } from './metrics.js';
import type { LoadedModel, OutputTensor } from './model.js';
import { ModelRepository } from './repository.js';
import { decodeInferRequest } from './tensor.js';
import type { PredictorConfig } from './config.js';

export const SERVER_NAME = 'weir-predictor';
export const SERVER_VERSION = '0.1.0';

const ROUTES = {
  infer: /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?\/infer$/,
  ready: /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?\/ready$/,
  metadata: /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?$/,
  feedback: /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?\/feedback$/,
  repository: /^\/v2\/repository\/models\/([^/]+)\/(load|unload)$/,
};

type Reply = { status: number; body: unknown; headers?: Record<string, string> };

export class PredictorServer {
  readonly metrics: PredictorMetrics;
  readonly repository: ModelRepository;
  private readonly cache: PredictionCache;
  private readonly store: PredictionStore;
  private readonly batchers = new Map<LoadedModel, Batcher>();
  private readonly server: http.Server;
  private draining = false;

  constructor(
    private readonly config: PredictorConfig,
    private readonly log: Logger,
  ) {
    this.metrics = new PredictorMetrics(config.model);
    this.metrics.setServing(undefined);
    this.cache = new PredictionCache({ maxEntries: config.cacheMaxEntries, ttlMs: config.cacheTtlMs });
    this.store = new PredictionStore(config.feedbackMaxEntries, config.feedbackTtlMs);
    this.repository = new ModelRepository(
      {
        root: config.modelRepository,
        model: config.model,
        pinnedVersion: config.version,
        session: { intraOpThreads: config.intraOpThreads, inlineMaxRunMs: config.inlineMaxRunMs },
        warmupRows: config.maxBatchRows,
        pollIntervalMs: config.pollIntervalMs,
        settleMs: 300,
      },
      {
        onSwap: (next, previous) => this.swap(next, previous),
        onLoadResult: (version, ok) => this.metrics.load(version, ok),
        onVanished: (version, vanished) => {
          if (vanished) this.metrics.modelVanished(version);
          this.metrics.ready(version, !vanished);
        },
      },
      log,
    );
    this.metrics.observe({
      queueDepths: () => new Map([...this.batchers].map(([model, batcher]) => [model.version, batcher.depth])),
      cacheEntries: () => this.cache.size,
      servingVersion: () => this.repository.serving?.version ?? 'none',
    });
    this.server = refuseTunnels(
      http.createServer(
        { requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 5_000 },
        (req, res) => void this.handle(req, res),
      ),
    );
  }

  get ready(): boolean {
    return !this.draining && this.repository.serving !== undefined && this.repository.vanished === undefined;
  }

  /** Why readiness is false, for /v2/health/ready. */
  private get notReadyReason(): string | undefined {
    if (this.draining) return 'shutting down';
    if (!this.repository.serving) return `model "${this.config.model}" is not loaded`;
    const vanished = this.repository.vanished;
    if (vanished)
      return `version ${vanished} vanished from the repository; it keeps answering from memory, but this predictor is not ready until the files return or a load (POST /v2/repository/models/${this.config.model}/load) picks another version`;
    return undefined;
  }

  async start(): Promise<number> {
    await this.repository.start();
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.config.port, this.config.host, () => resolve());
    });
    const port = (this.server.address() as AddressInfo).port;
    this.log.always('listening', {
      host: this.config.host,
      port,
      model: this.config.model,
      version: this.repository.serving?.version ?? null,
      ready: this.ready,
    });
    if (!this.config.adminToken) this.log.info('repository load/unload API disabled: no admin token configured');
    return port;
  }

  /** Readiness off, stop accepting connections, let in-flight requests finish, then resolve. */
  async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    this.log.info('draining: readiness is false, no new connections', { timeoutMs: this.config.drainTimeoutMs });
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    const timeout = new Promise<'timeout'>((resolve) =>
      setTimeout(() => resolve('timeout'), this.config.drainTimeoutMs).unref(),
    );
    const outcome = await Promise.race([closed.then(() => 'drained' as const), timeout]);
    if (outcome === 'timeout') {
      this.log.warn('drain timed out; closing remaining connections');
      this.server.closeAllConnections();
    }
    await this.repository.stop();
    await Promise.all([...this.batchers.values()].map((b) => b.idle()));
    this.log.always('drained', { outcome });
  }

  private swap(next: LoadedModel | undefined, previous: LoadedModel | undefined): void {
    if (next) {
      const version = next.version;
      this.batchers.set(
        next,
        new Batcher(next, {
          maxBatchRows: this.config.maxBatchRows,
          maxDelayMs: this.config.batchDelayMs,
          maxQueue: this.config.maxQueue,
          onBatch: (rows, seconds) => this.metrics.batch(version, rows, seconds),
        }),
      );
      this.metrics.ready(version, true);
    }
    this.metrics.setServing(next?.version);
    // Answers cached for the previous model are unreachable now (keys carry the load); free them.
    if (previous !== next) this.cache.clear();
    if (previous && previous !== next) {
      this.metrics.ready(previous.version, false);
      const batcher = this.batchers.get(previous);
      // Requests already queued on the old version finish on it; then it goes.
      void (batcher ? batcher.idle() : Promise.resolve()).then(async () => {
        this.batchers.delete(previous);
        await previous.release().catch((err: unknown) => this.log.warn('releasing a session failed', { err }));
      });
    }
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = performance.now();
    // A client that disconnects before its answer is written is an abort, whatever the answer would have been.
    let gone = false;
    res.once('close', () => {
      if (!res.writableFinished) gone = true;
    });
    const url = (req.url ?? '/').split('?')[0]!;
    let endpoint = url.includes('/infer') ? 'infer' : url.includes('/feedback') ? 'feedback' : 'other';
    let version = this.repository.serving?.version ?? 'none';
    let reply: Reply;
    try {
      if (!isOriginForm(req.url ?? '/'))
        throw new RequestError(
          400,
          `request target ${JSON.stringify((req.url ?? '').slice(0, 200))}: expected a path such as /v2/models/${this.config.model}/infer`,
        );
      const routed = await this.route(req, url);
      endpoint = routed.endpoint;
      version = routed.version ?? version;
      reply = routed.reply;
    } catch (err) {
      if (err instanceof ClientAbortedError) {
        // The client left mid-upload: nobody to answer, and not an error of this predictor.
        this.metrics.aborted(version, endpoint);
        this.log.debug('client aborted the request', { url: url.slice(0, 200) });
        return;
      }
      if (err instanceof RequestError) {
        reply = { status: err.status, body: { error: err.message }, headers: err.headers };
      } else {
        this.log.error('request failed', { url: url.slice(0, 200), err });
        reply = { status: 500, body: { error: `internal error: ${(err as Error).message}` } };
      }
    }
    if (gone) {
      this.metrics.aborted(version, endpoint);
      return;
    }
    this.send(req, res, reply);
    if (endpoint !== 'metrics' && endpoint !== 'health')
      this.metrics.request(version, endpoint, reply.status, (performance.now() - started) / 1000);
  }

  private send(req: http.IncomingMessage, res: http.ServerResponse, reply: Reply): void {
    if (res.headersSent || res.destroyed) return;
    const headers: Record<string, string> = { ...reply.headers };
    const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
    headers['content-type'] ??= 'application/json';
    headers['content-length'] = String(Buffer.byteLength(text));
    if (this.draining) headers.connection = 'close';
    // If the body was not read (too large, or not needed), close rather than
    // leave unread bytes on a keep-alive connection.
    if (!req.complete) headers.connection = 'close';
    res.writeHead(reply.status, headers);
    res.end(text);
  }

  private async route(
    req: http.IncomingMessage,
    url: string,
  ): Promise<{ endpoint: string; version?: string; reply: Reply }> {
    const method = req.method ?? 'GET';
    let match: RegExpExecArray | null;
    if (url === '/metrics') return { endpoint: 'metrics', reply: await this.metricsReply() };
    if (url === '/v2/health/live') return { endpoint: 'health', reply: { status: 200, body: { live: true } } };
    if (url === '/v2/health/ready') {
      const reason = this.notReadyReason;
      return {
        endpoint: 'health',
        reply: { status: reason ? 503 : 200, body: { ready: !reason, ...(reason ? { reason } : {}) } },
      };
    }
    if (url === '/v2') {
      return {
        endpoint: 'metadata',
        reply: {
          status: 200,
          body: { name: SERVER_NAME, version: SERVER_VERSION, extensions: ['model_repository', 'feedback'] },
        },
      };
    }
    if ((match = ROUTES.infer.exec(url))) {
      expectMethod(method, 'POST', url);
      const model = this.modelFor(match[1]!, match[2]);
      return { endpoint: 'infer', version: model.version, reply: await this.infer(req, model) };
    }
    if ((match = ROUTES.feedback.exec(url))) {
      expectMethod(method, 'POST', url);
      this.checkModelName(match[1]!);
      return { endpoint: 'feedback', reply: await this.feedback(req, match[2]) };
    }
    if ((match = ROUTES.ready.exec(url))) {
      expectMethod(method, 'GET', url);
      this.checkModelName(match[1]!);
      const serving = this.repository.serving;
      const ready = this.ready && (!match[2] || serving?.version === decodeSegment(match[2], 'version'));
      return {
        endpoint: 'health',
        reply: {
          status: ready ? 200 : 503,
          body: { name: this.config.model, version: match[2] ?? serving?.version, ready },
        },
      };
    }
    if ((match = ROUTES.repository.exec(url))) {
      expectMethod(method, 'POST', url);
      this.authorizeAdmin(req);
      this.checkModelName(match[1]!);
      await readBody(req, this.config.maxBodyBytes);
      if (match[2] === 'load') {
        const model = await this.repository.load().catch((err: Error) => {
          throw new RequestError(400, `failed to load "${this.config.model}": ${err.message}`);
        });
        return {
          endpoint: 'repository',
          reply: { status: 200, body: { name: model.name, version: model.version, state: 'READY' } },
        };
      }
      await this.repository.unload();
      return {
        endpoint: 'repository',
        reply: { status: 200, body: { name: this.config.model, state: 'UNAVAILABLE' } },
      };
    }
    if (url === '/v2/repository/index') {
      expectMethod(method, 'POST', url);
      this.authorizeAdmin(req);
      const serving = this.repository.serving;
      const versions = await this.repository.versions();
      return {
        endpoint: 'repository',
        reply: {
          status: 200,
          body: versions.map((v) => ({
            name: this.config.model,
            version: v,
            state: serving?.version === v ? 'READY' : 'UNAVAILABLE',
          })),
        },
      };
    }
    if ((match = ROUTES.metadata.exec(url))) {
      expectMethod(method, 'GET', url);
      const model = this.modelFor(match[1]!, match[2], false);
      return { endpoint: 'metadata', version: model.version, reply: { status: 200, body: this.metadataOf(model) } };
    }
    throw new RequestError(404, `no route for ${method} ${url}; see /v2 (Open Inference Protocol v2)`);
  }

  private checkModelName(name: string): void {
    const decoded = decodeSegment(name, 'model name');
    if (decoded !== this.config.model)
      throw new RequestError(
        404,
        `model ${JSON.stringify(decoded.slice(0, 100))} not found; this predictor serves "${this.config.model}"`,
      );
  }

  /** The serving model, if it matches the name (and version) in the URL. */
  private modelFor(name: string, version: string | undefined, needReady = true): LoadedModel {
    this.checkModelName(name);
    const serving = this.repository.serving;
    if (!serving)
      throw new RequestError(
        503,
        `model "${this.config.model}" is not loaded yet (or was unloaded); check /v2/health/ready`,
        { 'retry-after': '1' },
      );
    const wanted = version === undefined ? undefined : decodeSegment(version, 'version');
    if (wanted !== undefined && wanted !== serving.version) {
      throw new RequestError(
        404,
        `version ${JSON.stringify(wanted.slice(0, 100))} of "${this.config.model}" is not served here; serving: ${serving.version}`,
      );
    }
    if (needReady && this.draining)
      throw new RequestError(503, 'shutting down; retry against another replica', { 'retry-after': '1' });
    return serving;
  }

  private metadataOf(model: LoadedModel): unknown {
    const { input } = model;
    const datatype = { float32: 'FP32', float64: 'FP64', int32: 'INT32', int64: 'INT64' }[input.elementType];
    type OutputInfo = { name: string; datatype?: string; shape?: number[] };
    const outputs: OutputInfo[] =
      (model.metadata.outputs as OutputInfo[] | undefined) ?? input.outputNames.map((name) => ({ name }));
    return {
      name: model.name,
      versions: [model.version],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: input.name, datatype, shape: [-1, input.width] }],
      outputs: outputs.map(({ name, datatype: dt, shape }) => ({ name, datatype: dt, shape })),
      parameters: {
        features: model.metadata.features,
        holdout_accuracy: model.metadata.holdoutAccuracy,
        description: model.metadata.description,
      },
    };
  }

  private async infer(req: http.IncomingMessage, model: LoadedModel): Promise<Reply> {
    const body = parseJson((await readBody(req, this.config.maxBodyBytes)).toString('utf8'));
    // Each element takes at least two bytes of JSON ("0,"), so no honest request carries more than this.
    const request = decodeInferRequest(body, model.input, {
      maxElements: Math.max(model.input.width, Math.floor(this.config.maxBodyBytes / 2)),
    });
    const bypass = /no-cache|no-store/i.test(String(req.headers['cache-control'] ?? ''));
    let outputs: OutputTensor[] | undefined;
    // Keyed by the load, not the version name: a reload of the same version never answers from the old model's entries.
    const key = this.cache.enabled && !bypass ? cacheKey(model.loadId, request.values) : undefined;
    if (key !== undefined) {
      outputs = this.cache.get(key);
      this.metrics.cache(model.version, outputs !== undefined);
    }
    if (!outputs) {
      const batcher = this.batchers.get(model);
      if (!batcher)
        throw new RequestError(503, `version ${model.version} is being replaced; retry`, { 'retry-after': '1' });
      outputs = await batcher.submit(request.values, request.rows);
      if (key !== undefined) this.cache.set(key, outputs);
    }
    const id = request.id ?? randomUUID();
    // Each output becomes plain numbers once; the response and the feedback store share them.
    const plain = new Map(
      outputs.map((o) => [o.name, { tensor: o, data: Array.from(o.data as ArrayLike<number | bigint>, Number) }]),
    );
    const labels = plain.get('label');
    if (labels) {
      this.metrics.predicted(model.version, labels.data);
      this.store.remember(
        id,
        { version: model.version, labels: labels.data, probabilities: plain.get('probability')?.data },
        Date.now(),
      );
    }
    return {
      status: 200,
      body: {
        model_name: model.name,
        model_version: model.version,
        id,
        outputs: request.outputs.map((name) => {
          const { tensor, data } = plain.get(name)!;
          return {
            name,
            datatype: tensor.datatype,
            shape: tensor.perRow === 1 ? [request.rows] : [request.rows, tensor.perRow],
            data,
          };
        }),
      },
    };
  }

  private async feedback(req: http.IncomingMessage, version: string | undefined): Promise<Reply> {
    const servingVersion = this.repository.serving?.version ?? 'none';
    const hint = version === undefined ? undefined : decodeSegment(version, 'version');
    let items;
    try {
      items = decodeFeedback(parseJson((await readBody(req, this.config.maxBodyBytes)).toString('utf8')), [0, 1], {
        maxAbsValue: this.config.maxFeedbackValue,
        maxItems: 10_000,
      });
    } catch (err) {
      if (err instanceof RequestError && err.status === 400) this.metrics.rejected(servingVersion, 'invalid');
      throw err;
    }
    const now = Date.now();
    // All or nothing: every item is joined with its prediction before any counter moves or any
    // prediction is used up. One item that cannot be scored (unknown, expired, rows that do not
    // match) rejects the request whole; the client drops or fixes the listed items and sends again.
    const rejected = items.flatMap((item, index) => {
      const problem = this.store.check(item, now);
      return problem ? [{ index, id: item.id, reason: problem.rejection, error: problem.message }] : [];
    });
    if (rejected.length > 0) {
      for (const r of rejected) this.metrics.rejected(servingVersion, r.reason);
      const first = rejected[0]!;
      const error = `${items.length > 1 ? `[${first.index}]: ` : ''}${first.error}${rejected.length > 1 ? ` (and ${rejected.length - 1} more)` : ''}; nothing in this request was counted`;
      return { status: REJECTION_STATUS[first.reason], body: { accepted: 0, rejected, error } };
    }
    for (const item of items) {
      const scored = this.store.score(item, now) as ScoredRow[];
      if (hint !== undefined && scored[0] && scored[0].version !== hint) {
        // Labels are still counted for the version that predicted; the URL was only a hint.
        this.log.debug('feedback URL names another version than the prediction', {
          url: hint,
          predictedBy: scored[0].version,
        });
      }
      for (const row of scored) this.metrics.labelled(row.version, row.correct, row.brier, row.value);
    }
    return { status: 200, body: { accepted: items.length, rejected: [] } };
  }

  private async metricsReply(): Promise<Reply> {
    const text = await this.metrics.registry.metrics();
    return { status: 200, body: text, headers: { 'content-type': this.metrics.registry.contentType } };
  }

  private authorizeAdmin(req: http.IncomingMessage): void {
    const token = this.config.adminToken;
    if (!token)
      throw new RequestError(
        403,
        'the repository API is disabled; start weir-predictor with --admin-token (or WEIR_PREDICTOR_ADMIN_TOKEN) to enable it',
      );
    if (!bearerMatches(req.headers.authorization, token)) {
      throw new RequestError(401, 'the repository API needs "Authorization: Bearer <admin token>"', {
        'www-authenticate': 'Bearer',
      });
    }
  }
}

function expectMethod(method: string, expected: string, url: string): void {
  if (method !== expected)
    throw new RequestError(405, `${method} is not allowed on ${url}; use ${expected}`, { allow: expected });
}

function parseJson(text: string): unknown {
  if (text.length === 0) throw new RequestError(400, 'request body: empty; expected JSON');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new RequestError(400, `request body: invalid JSON (${(err as Error).message.slice(0, 200)})`);
  }
}
