// The predictor's process: one model version served over HTTP (routes.ts),
// loaded and swapped by the repository, batched, cached and measured. It never
// dies on a bad request, and on SIGTERM it stops taking connections, finishes
// what is in flight, then exits.
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer, type Exchange } from '../../shared/http.js';
import type { Logger } from '../../shared/log.js';
import { TIMED_OUT, withTimeout } from '../../shared/wait.js';
import { Batcher } from './batcher.js';
import { PredictionCache } from './cache.js';
import type { PredictorConfig } from './config.js';
import { PredictorMetrics } from './metrics.js';
import type { LoadedModel } from './model.js';
import { InProcessLog } from './prediction-log/in-process.js';
import { checkRedisUrl, type PredictionLog } from './prediction-log/log.js';
import { ModelRepository } from './repository.js';
import { predictorRoutes } from './routes.js';
import type { PredictorState } from './state.js';

export { SERVER_NAME, SERVER_VERSION } from './routes.js';

/** A weir-predictor: `start()` loads the model and listens; `drain()` stops it gracefully. */
export class PredictorServer implements PredictorState {
  readonly metrics: PredictorMetrics;
  readonly repository: ModelRepository;
  readonly cache: PredictionCache;
  /** Opened in start(), before the server listens, so no request finds it missing. */
  predictions!: PredictionLog;
  private readonly batchers = new Map<LoadedModel, Batcher>();
  private readonly server: http.Server;
  draining = false;

  constructor(
    readonly config: PredictorConfig,
    readonly log: Logger,
  ) {
    this.metrics = new PredictorMetrics(config.model);
    this.metrics.setServing(undefined);
    this.cache = new PredictionCache({ maxEntries: config.cacheMaxEntries, ttlMs: config.cacheTtlMs });
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
    this.server = createServer({
      routes: predictorRoutes(this),
      log,
      hint: 'see /v2 (Open Inference Protocol v2)',
      headers: (): Record<string, string> => (this.draining ? { connection: 'close' } : {}),
      onReply: (x, status, seconds) => {
        const endpoint = this.endpointOf(x);
        if (endpoint !== 'metrics' && endpoint !== 'health')
          this.metrics.request(this.versionOf(x), endpoint, status, seconds);
      },
      // The client left before its answer: nobody to answer, and not an error of this predictor.
      onAbort: (x) => {
        this.metrics.aborted(this.versionOf(x), this.endpointOf(x));
        log.debug('client aborted the request', { path: x.path.slice(0, 200) });
      },
    });
  }

  /**
   * Redis when --prediction-log names one (connecting in the background), else the in-process
   * store. The Redis client is loaded only then: it costs about 230 ms of start-up to import.
   */
  private async openPredictionLog(): Promise<PredictionLog> {
    const { predictionLog: url, feedbackTtlMs, feedbackMaxEntries, model } = this.config;
    if (!url) {
      this.metrics.logState('in-process', true);
      return new InProcessLog(feedbackMaxEntries, feedbackTtlMs);
    }
    const { RedisLog } = await import('./prediction-log/redis.js');
    const servingVersion = () => this.repository.serving?.version ?? 'none';
    const log = new RedisLog(
      {
        url,
        model,
        ttlMs: feedbackTtlMs,
        onUnlogged: (reason, count) => this.metrics.notLogged(servingVersion(), reason, count),
        onUp: (up) => this.metrics.logState('redis', up),
      },
      this.log,
    );
    this.metrics.logState('redis', false);
    log.start();
    return log;
  }

  batcherFor(model: LoadedModel): Batcher | undefined {
    return this.batchers.get(model);
  }

  /** The endpoint label: the route's name, or for requests no route took, what the path looks like. */
  private endpointOf(x: Exchange): string {
    return x.route ?? (x.path.includes('/infer') ? 'infer' : x.path.includes('/feedback') ? 'feedback' : 'other');
  }

  /** The version that answered, or the one serving now. */
  private versionOf(x: Exchange): string {
    return x.labels.version ?? this.repository.serving?.version ?? 'none';
  }

  get ready(): boolean {
    return !this.draining && this.repository.serving !== undefined && this.repository.vanished === undefined;
  }

  /** Why readiness is false, for /v2/health/ready. */
  notReadyReason(): string | undefined {
    if (this.draining) return 'shutting down';
    if (!this.repository.serving) return `model "${this.config.model}" is not loaded`;
    const vanished = this.repository.vanished;
    if (vanished)
      return `version ${vanished} vanished from the repository; it keeps answering from memory, but this predictor is not ready until the files return or a load (POST /v2/repository/models/${this.config.model}/load) picks another version`;
    return undefined;
  }

  async start(): Promise<number> {
    this.predictions = await this.openPredictionLog();
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
    if (this.config.predictionLog)
      this.log.always('prediction log: Redis, shared by every replica of every version', {
        url: checkRedisUrl(this.config.predictionLog),
        ttlMs: this.config.feedbackTtlMs,
      });
    else
      this.log.always(
        'prediction log: in this process only (embedded default); feedback must reach this process. Use --prediction-log redis://HOST:PORT for replicas',
        { maxEntries: this.config.feedbackMaxEntries, ttlMs: this.config.feedbackTtlMs },
      );
    if (!this.config.feedbackToken)
      this.log.info(
        'feedback is not authenticated: set WEIR_PREDICTOR_FEEDBACK_TOKEN so that only your labeller can post truth',
      );
    return port;
  }

  /** Readiness off, stop accepting connections, let in-flight requests finish, then resolve. */
  async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    this.log.info('draining: readiness is false, no new connections', { timeoutMs: this.config.drainTimeoutMs });
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    const outcome =
      (await withTimeout(closed, this.config.drainTimeoutMs)) === TIMED_OUT
        ? ('timeout' as const)
        : ('drained' as const);
    if (outcome === 'timeout') {
      this.log.warn('drain timed out; closing remaining connections');
      this.server.closeAllConnections();
    }
    await this.repository.stop();
    await Promise.all([...this.batchers.values()].map((b) => b.idle()));
    await this.predictions?.close();
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
}
