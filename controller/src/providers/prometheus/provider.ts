// MetricsProvider over the Prometheus HTTP API (fetch), with timeouts, retries
// and auth options. A query that fails, times out, is empty or is ambiguous
// becomes undefined: nodata, so the engine holds and never promotes on it.
// Each round's failures come back with its results.
import type { PlannedQuery, QueryResult } from '../../analysis/observations.js';
import { retry } from '../../../../shared/retry.js';
import type { MetricsProvider, QueryFailure, QueryRound } from '../types.js';

export interface PrometheusOptions {
  url: string;
  /** Told how many queries of each round answered and how many failed (the controller's metrics). */
  recorder?: { queries(ok: number, failed: number): void };
  timeoutMs?: number;
  /** Extra attempts after a failed request (network error, 5xx). */
  retries?: number;
  bearerToken?: string;
  basicAuth?: { username: string; password: string };
  /** Queries in flight at once. */
  concurrency?: number;
}

interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

/** A failed request: `retryable` unless Prometheus refused the query itself (4xx). */
class PrometheusError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

/** A MetricsProvider over Prometheus' HTTP API (see the module comment). */
export class PrometheusMetrics implements MetricsProvider {
  private readonly base: string;
  private readonly headers: Record<string, string> = {};

  constructor(private readonly options: PrometheusOptions) {
    this.base = options.url.replace(/\/$/, '');
    if (options.bearerToken) this.headers.authorization = `Bearer ${options.bearerToken}`;
    else if (options.basicAuth)
      this.headers.authorization = `Basic ${Buffer.from(`${options.basicAuth.username}:${options.basicAuth.password}`).toString('base64')}`;
  }

  /** True when Prometheus answered its readiness endpoint. */
  async ready(): Promise<boolean> {
    try {
      return (
        await fetch(`${this.base}/-/ready`, {
          headers: this.headers,
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 5000),
        })
      ).ok;
    } catch {
      return false;
    }
  }

  /** Runs every query of the plan (a few at a time); each failure is in `failures`, and its result is undefined. */
  async query(plan: PlannedQuery[]): Promise<QueryRound> {
    const results = new Map<string, QueryResult>();
    const failures: QueryFailure[] = [];
    let next = 0;
    const worker = async () => {
      while (next < plan.length) {
        const item = plan[next++]!;
        try {
          results.set(item.key, interpret(item, await this.instant(item.query)));
        } catch (err) {
          failures.push({ key: item.key, error: (err as Error).message });
          results.set(item.key, undefined);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(plan.length, this.options.concurrency ?? 8) }, worker));
    this.options.recorder?.queries(plan.length - failures.length, failures.length);
    return { results, failures };
  }

  /** An instant query's raw answer, evaluated at `time` (seconds since the epoch) when given. */
  async instant(query: string, time?: number): Promise<{ resultType: string; result: unknown }> {
    return this.get('/api/v1/query', { query, ...(time !== undefined ? { time: String(time) } : {}) });
  }

  /** A range query: every series with its [seconds, value] points from start to end, one per step. */
  async range(
    query: string,
    start: number,
    end: number,
    stepSeconds: number,
  ): Promise<{ metric: Record<string, string>; values: [number, string][] }[]> {
    const data = await this.get('/api/v1/query_range', {
      query,
      start: String(start),
      end: String(end),
      step: String(stepSeconds),
    });
    if (data.resultType !== 'matrix')
      throw new Error(`prometheus query failed: expected a matrix, got ${data.resultType}`);
    return data.result as { metric: Record<string, string>; values: [number, string][] }[];
  }

  private async get(path: string, params: Record<string, string>): Promise<{ resultType: string; result: unknown }> {
    const url = `${this.base}${path}?${new URLSearchParams(params)}`;
    try {
      return await retry(
        async () => {
          let response: Response;
          try {
            response = await fetch(url, {
              headers: this.headers,
              signal: AbortSignal.timeout(this.options.timeoutMs ?? 5000),
            });
          } catch (err) {
            const e = err as Error & { cause?: { code?: string; message?: string } };
            throw new PrometheusError(
              e.name === 'TimeoutError' ? 'timeout' : (e.cause?.code ?? e.cause?.message ?? e.message),
              true,
            );
          }
          const body = (await response.json().catch(() => ({}))) as {
            status?: string;
            data?: { resultType: string; result: unknown };
            error?: string;
          };
          if (response.status === 200 && body.status === 'success' && body.data) return body.data;
          // A bad query does not get better by asking again; a 5xx might.
          throw new PrometheusError(
            `HTTP ${response.status}: ${body.error ?? 'unexpected response'}`,
            response.status >= 500,
          );
        },
        {
          attempts: 1 + (this.options.retries ?? 2),
          baseMs: 100,
          retryOn: (err) => err instanceof PrometheusError && err.retryable,
        },
      );
    } catch (err) {
      throw new Error(`prometheus query failed: ${(err as Error).message}`, { cause: err });
    }
  }
}

/** Turns an instant-query answer into a number, bucket counts, or undefined. */
export function interpret(item: PlannedQuery, data: { resultType: string; result: unknown }): QueryResult {
  if (data.resultType === 'scalar') {
    const value = Number((data.result as [number, string])[1]);
    return Number.isFinite(value) ? value : undefined;
  }
  if (data.resultType !== 'vector') return undefined;
  const samples = data.result as PromSample[];
  if (item.kind === 'buckets') {
    const buckets = samples
      .filter((s) => s.metric.le !== undefined)
      .map((s) => ({ le: s.metric.le === '+Inf' ? Infinity : Number(s.metric.le), value: Number(s.value[1]) }))
      .filter((b) => !Number.isNaN(b.le) && Number.isFinite(b.value))
      .sort((a, b) => a.le - b.le);
    return buckets.length > 0 ? buckets : undefined;
  }
  // A scalar metric must come back as exactly one series; more is ambiguous.
  if (samples.length !== 1) return undefined;
  const value = Number(samples[0]!.value[1]);
  return Number.isFinite(value) ? value : undefined;
}
