// The shared prediction log in Redis. One hash per request id,
// `weir:<model>:<id>`, holds each version's prediction (field `r:<version>`,
// compact JSON) and the claims taken when it was scored (`v:<version>`, and
// `p:<a>|<b>` for a pair). The hash expires a grace period after the feedback
// TTL, counted from its first prediction. Claims are HSETNX inside one MULTI, so each (id, version) is scored
// exactly once across replicas, retries and mirrored copies.
//
// Writes are batched per event-loop turn into one script call, off the
// request path. While Redis is unreachable, or when too many writes are in flight,
// predictions are counted as unlogged and dropped; inference never waits.
import { createHash } from 'node:crypto';
import { backoffMs } from '../../../shared/retry.js';
import { TIMED_OUT, waitFor, withTimeout } from '../../../shared/wait.js';
import { createClient, type RedisClientType } from 'redis';
import type { Logger } from '../../../shared/log.js';
import {
  checkRedisUrl,
  expiredGraceMs,
  PredictionLogUnavailable,
  type LoggedPrediction,
  type LoggedRequest,
  type PredictionLog,
  type UnloggedReason,
} from './log.js';

/** Most records written but not yet acknowledged; more are dropped as unlogged (backlog). */
const MAX_IN_FLIGHT = 50_000;
/** Longest wait for a feedback lookup before it is answered 503. */
const LOOKUP_TIMEOUT_MS = 2000;

export interface RedisLogOptions {
  /** redis://[user:password@]host:port[/db] */
  url: string;
  model: string;
  ttlMs: number;
  onUnlogged(reason: UnloggedReason, count: number): void;
  onUp?(up: boolean): void;
}

/**
 * Logs records: KEYS are the request hashes, ARGV[1] the expiry in ms, then a field and a value per
 * key. The first prediction of a version under an id stays (HSETNX); the expiry is set once (NX).
 */
const RECORD_SCRIPT = `local ttl = ARGV[1]
for i = 1, #KEYS do
  redis.call('HSETNX', KEYS[i], ARGV[2 * i], ARGV[2 * i + 1])
  redis.call('PEXPIRE', KEYS[i], ttl, 'NX')
end
return #KEYS`;
const RECORD_SHA = createHash('sha1').update(RECORD_SCRIPT).digest('hex');
/** Records per script call, so no one call holds Redis long. */
const MAX_RECORDS_PER_CALL = 1000;

interface Stored {
  o: number[];
  p?: number[];
  t: number;
}

/** The shared prediction log (see the module comment). */
export class RedisLog implements PredictionLog {
  private readonly client: RedisClientType;
  private readonly keepMs: number;
  private batch: { key: string; field: string; value: string }[] = [];
  private flushScheduled = false;
  private inFlight = 0;
  private ready = false;
  private closed = false;
  private lastErrorLog = 0;

  constructor(
    private readonly options: RedisLogOptions,
    private readonly log: Logger,
  ) {
    this.keepMs = options.ttlMs + expiredGraceMs(options.ttlMs);
    this.client = createClient({
      url: options.url,
      // Commands fail at once while disconnected instead of queueing without bound.
      disableOfflineQueue: true,
      // A dead peer (a node gone without closing the connection) is noticed within seconds, not
      // when the kernel gives up on the socket.
      pingInterval: 5000,
      socket: {
        connectTimeout: 2000,
        // Forever, from 100 ms up to 2 s apart: logging resumes by itself when Redis returns.
        reconnectStrategy: (retries: number) => backoffMs(retries, 100, 2000),
      },
    }) as RedisClientType;
    this.client.on('ready', () => this.setReady(true));
    this.client.on('end', () => this.setReady(false));
    this.client.on('reconnecting', () => this.setReady(false));
    this.client.on('error', (err: Error) => {
      // Not every error closes the connection; readiness follows the client's own state.
      this.setReady(this.client.isReady);
      // One line per 10 s at most: a down Redis must not flood the log.
      const now = Date.now();
      if (now - this.lastErrorLog > 10_000) {
        this.lastErrorLog = now;
        this.log.warn('prediction log (Redis) unreachable; predictions are counted as unlogged until it returns', {
          url: checkRedisUrl(options.url),
          error: err.message,
        });
      }
    });
  }

  /** Starts connecting; resolves at once even when Redis is down (it keeps trying in the background). */
  start(): void {
    this.client.connect().catch(() => undefined);
  }

  private setReady(ready: boolean): void {
    if (this.ready === ready) return;
    this.ready = ready;
    if (ready) this.log.info('prediction log (Redis) connected', { url: checkRedisUrl(this.options.url) });
    this.options.onUp?.(ready);
  }

  private key(id: string): string {
    return `weir:${this.options.model}:${id}`;
  }

  record(id: string, prediction: LoggedPrediction): void {
    if (!this.client.isReady) return this.options.onUnlogged('unavailable', 1);
    if (this.inFlight + this.batch.length >= MAX_IN_FLIGHT) return this.options.onUnlogged('backlog', 1);
    const stored: Stored = { o: prediction.outputs, t: prediction.at };
    if (prediction.probabilities) stored.p = prediction.probabilities;
    this.batch.push({ key: this.key(id), field: `r:${prediction.version}`, value: JSON.stringify(stored) });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.batch;
    this.batch = [];
    if (batch.length === 0) return;
    if (!this.client.isReady) return this.options.onUnlogged('unavailable', batch.length);
    for (let i = 0; i < batch.length; i += MAX_RECORDS_PER_CALL) {
      const part = batch.slice(i, i + MAX_RECORDS_PER_CALL);
      this.inFlight += part.length;
      this.write(part)
        .catch(() => this.options.onUnlogged('error', part.length))
        .finally(() => {
          this.inFlight -= part.length;
        });
    }
  }

  /**
   * One EVALSHA per batch: a command per record costs the client a promise and an encoding each,
   * and the server a parse each; the script does HSETNX + PEXPIRE NX per record inside Redis.
   */
  private async write(part: { key: string; field: string; value: string }[]): Promise<void> {
    const options = {
      keys: part.map((r) => r.key),
      arguments: [String(this.keepMs), ...part.flatMap((r) => [r.field, r.value])],
    };
    try {
      await this.client.evalSha(RECORD_SHA, options);
    } catch (err) {
      // After a Redis restart its script cache is empty: send the script itself once.
      if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
      await this.client.eval(RECORD_SCRIPT, options);
    }
  }

  private async bounded<T>(what: string, work: () => Promise<T>): Promise<T> {
    if (!this.client.isReady) throw new PredictionLogUnavailable('the prediction log (Redis) is unreachable');
    const pending = work();
    let result: T | typeof TIMED_OUT;
    try {
      result = await withTimeout(pending, LOOKUP_TIMEOUT_MS);
    } catch (err) {
      throw new PredictionLogUnavailable(`the prediction log (Redis) failed ${what}: ${(err as Error).message}`);
    }
    if (result !== TIMED_OUT) return result;
    pending.catch(() => undefined);
    throw new PredictionLogUnavailable(
      `the prediction log (Redis) did not answer ${what} within ${LOOKUP_TIMEOUT_MS} ms`,
    );
  }

  lookup(ids: string[]): Promise<Map<string, LoggedRequest | undefined>> {
    return this.bounded('a lookup', async () => {
      const pipeline = this.client.multi();
      for (const id of ids) pipeline.hGetAll(this.key(id));
      const replies = (await pipeline.execAsPipeline()) as unknown as Record<string, string>[];
      return new Map(ids.map((id, i) => [id, parseRequest(replies[i] ?? {})]));
    });
  }

  /**
   * Not bounded by the timeout: once the MULTI is sent it may run, and its claims must then be
   * counted, so the caller keeps waiting for the reply (the endpoint answers 503 meanwhile).
   */
  async claim(claims: { id: string; key: string }[]): Promise<boolean[]> {
    if (claims.length === 0) return [];
    if (!this.client.isReady) throw new PredictionLogUnavailable('the prediction log (Redis) is unreachable');
    const transaction = this.client.multi();
    for (const { id, key } of claims) {
      // A hash that expired between lookup and claim must not come back without an expiry.
      transaction.hSetNX(this.key(id), key, '1').pExpire(this.key(id), this.keepMs, 'NX');
    }
    let replies: unknown[];
    try {
      replies = (await transaction.exec()) as unknown as unknown[];
    } catch (err) {
      throw new PredictionLogUnavailable(`the prediction log (Redis) failed a claim: ${(err as Error).message}`);
    }
    return claims.map((_, i) => Number(replies[i * 2]) === 1);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.flush();
    // Writes already sent get up to 2 s to be answered.
    await waitFor(() => this.inFlight === 0, 2000, 'prediction-log writes', 10).catch(() => undefined);
    // close() waits for every pending reply, which a dead connection never sends.
    const closed = await withTimeout(
      this.client.close().then(
        () => true,
        () => false,
      ),
      2000,
    );
    if (closed !== true) this.client.destroy();
  }
}

/** The stored hash of one request, read back; undefined when it holds no prediction. */
function parseRequest(hash: Record<string, string>): LoggedRequest | undefined {
  const predictions: LoggedPrediction[] = [];
  const claimed = new Set<string>();
  for (const [field, value] of Object.entries(hash)) {
    if (field.startsWith('r:')) {
      try {
        const stored = JSON.parse(value) as Stored;
        if (!Array.isArray(stored.o) || typeof stored.t !== 'number') continue;
        predictions.push({ version: field.slice(2), outputs: stored.o, probabilities: stored.p, at: stored.t });
      } catch {
        // A record weir did not write, or a corrupt one, is skipped; it cannot be scored.
      }
    } else if (field.startsWith('v:') || field.startsWith('p:')) claimed.add(field);
  }
  return predictions.length === 0 ? undefined : { predictions, claimed };
}
