// MetricsProvider over the Prometheus HTTP API (axios), with timeouts, retries
// and auth options. A query that fails, times out, is empty or is ambiguous
// becomes undefined: nodata, so the engine holds and never promotes on it.
import axios, { type AxiosInstance } from 'axios';
import type { PlannedQuery, QueryResult } from '../../analysis/observations.js';
import type { MetricsProvider } from '../types.js';

export interface PrometheusOptions {
  /** Told after every query round how many queries answered and how many failed. */
  onQueries?: (ok: number, failed: number) => void;
  url: string;
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

export interface QueryFailure {
  key: string;
  error: string;
}

export class PrometheusMetrics implements MetricsProvider {
  private readonly http: AxiosInstance;
  /** Failures of the last `query` call, for logs, metrics and alerts. */
  lastFailures: QueryFailure[] = [];

  constructor(private readonly options: PrometheusOptions) {
    const headers: Record<string, string> = {};
    if (options.bearerToken) headers.authorization = `Bearer ${options.bearerToken}`;
    this.http = axios.create({
      baseURL: options.url.replace(/\/$/, ''),
      timeout: options.timeoutMs ?? 5000,
      headers,
      ...(options.basicAuth ? { auth: options.basicAuth } : {}),
      // Prometheus answers 4xx with a JSON error body; read it instead of throwing.
      validateStatus: () => true,
    });
  }

  /** True when Prometheus answered its readiness endpoint. */
  async ready(): Promise<boolean> {
    try {
      return (await this.http.get('/-/ready')).status === 200;
    } catch {
      return false;
    }
  }

  async query(plan: PlannedQuery[]): Promise<Map<string, QueryResult>> {
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
    this.lastFailures = failures;
    this.options.onQueries?.(plan.length - failures.length, failures.length);
    return results;
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
    const attempts = 1 + (this.options.retries ?? 2);
    let lastError = 'no attempt';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const response = await this.http.get(path, { params });
        const body = response.data as {
          status?: string;
          data?: { resultType: string; result: unknown };
          error?: string;
        };
        if (response.status === 200 && body.status === 'success' && body.data) return body.data;
        lastError = `HTTP ${response.status}: ${body.error ?? 'unexpected response'}`;
        if (response.status < 500) break; // a bad query does not get better by asking again
      } catch (err) {
        lastError = axios.isAxiosError(err) ? (err.code ?? err.message) : (err as Error).message;
      }
      if (attempt < attempts) await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** (attempt - 1)));
    }
    throw new Error(`prometheus query failed: ${lastError}`);
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
