// The local gateway: for predictor processes, what Istio's sidecars do for pods.
// Weighted routing by a VirtualService-shaped table, header and cookie matches,
// mirroring, timeouts and retries, least-request balancing, Istio telemetry,
// and an admin API behind a token. A new table applies to the next request;
// requests in flight finish on the backend they were given.
//
// It only ever forwards to its configured backends: a request target must be
// an origin-form path, and the upstream request is built from the backend's
// host and port with that path, never by resolving the target as a URL. Any
// input gets a 4xx naming what was wrong; upstream garbage becomes a 502; an
// unexpected error fails that one request with a 500, never the process.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { parseDuration } from '../../../../predictor/src/duration.js';
import { RequestError } from '../../../../predictor/src/errors.js';
import {
  bearerMatches,
  ClientAbortedError,
  decodeSegment,
  isOriginForm,
  pathOf,
  readBody,
  refuseTunnels,
  sendJson as reply,
} from '../../../../predictor/src/http.js';
import type { Logger } from '../../../../predictor/src/log.js';
import { parseAppliedStep } from '../../engine/applied-step.js';
import type { AppliedStep } from '../../engine/types.js';
import { GatewayTelemetry } from './telemetry.js';
import {
  parseRouteTable,
  parseWeightsChange,
  pickDestination,
  selectRoute,
  weightsOf,
  withWeights,
  type Destination,
  type HttpRoute,
  type RouteTable,
} from './routes.js';

export interface GatewayOptions {
  table: RouteTable;
  /** Backend base URLs per subset (version). Several per version are balanced by least requests. */
  backends: Record<string, string[]>;
  /** destination_service label value. */
  service: string;
  /** Bearer token for the admin API; required. */
  token: string;
  maxBodyBytes?: number;
  /** Largest upstream answer passed on; a larger one is a 502. */
  maxResponseBytes?: number;
  /** Route whose weights are reported as weir_gateway_route_weight. */
  primaryRoute?: string;
  random?: () => number;
}

interface Attempt {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
  'proxy-connection',
  'te',
  'trailer',
  'host',
  'content-length',
];

const ADMIN_MAX_BYTES = 1024 * 1024;

export class Gateway {
  readonly telemetry: GatewayTelemetry;
  private table: RouteTable;
  /** Backend URLs per subset; a Map, so no request can reach a prototype property. */
  private readonly backends: Map<string, URL[]>;
  /** The step record weir keeps with each route's weights (see AppliedStep); cleared when the whole table is replaced. */
  private readonly steps = new Map<string, AppliedStep>();
  private readonly inFlight = new Map<string, number>();
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  private readonly data: http.Server;
  private readonly admin: http.Server;
  private readonly random: () => number;

  constructor(
    private readonly options: GatewayOptions,
    private readonly log: Logger,
  ) {
    if (options.token.length < 16) throw new RangeError('gateway token: must be at least 16 characters');
    this.table = options.table;
    this.backends = new Map(
      Object.entries(options.backends).map(([subset, urls]) => [
        subset,
        urls.map((u) => {
          const url = new URL(u);
          if (url.protocol !== 'http:') throw new RangeError(`backend ${subset}: "${u}" is not an http:// URL`);
          return url;
        }),
      ]),
    );
    this.random = options.random ?? Math.random;
    this.telemetry = new GatewayTelemetry(options.service);
    this.reportWeights();
    this.data = refuseTunnels(
      http.createServer({ requestTimeout: 60_000, headersTimeout: 10_000 }, (req, res) =>
        this.guard(req, res, () => this.proxy(req, res)),
      ),
    );
    this.admin = refuseTunnels(
      http.createServer({ requestTimeout: 30_000, headersTimeout: 10_000 }, (req, res) =>
        this.guard(req, res, () => this.adminRequest(req, res)),
      ),
    );
  }

  get routes(): RouteTable {
    return this.table;
  }

  /** Replaces the table; the next request sees it. Step records of routes no longer in it go. */
  setRoutes(table: RouteTable): void {
    this.table = table;
    for (const name of this.steps.keys()) if (!table.http.some((r) => r.name === name)) this.steps.delete(name);
    this.reportWeights();
    this.log.info('routes updated', {
      routes: table.http.map((r) => ({
        name: r.name,
        weights: r.route.map((d) => `${d.destination.subset ?? d.destination.host}=${d.weight ?? 100}`).join(','),
      })),
    });
  }

  async listen(port: number, adminPort: number, host = '127.0.0.1'): Promise<{ port: number; adminPort: number }> {
    const bind = (server: http.Server, p: number) =>
      new Promise<number>((resolve, reject) => {
        server.once('error', reject);
        server.listen(p, host, () => resolve((server.address() as AddressInfo).port));
      });
    return { port: await bind(this.data, port), adminPort: await bind(this.admin, adminPort) };
  }

  /** Stops listening, lets requests in flight finish (up to `graceMs`), and closes idle keep-alive connections at once. */
  async close(graceMs = 5000): Promise<void> {
    const closing = [this.data, this.admin].map((server) => {
      const closed = new Promise((resolve) => server.close(resolve));
      server.closeIdleConnections();
      const force = setTimeout(() => server.closeAllConnections(), graceMs);
      return closed.finally(() => clearTimeout(force));
    });
    await Promise.all(closing);
    this.agent.destroy();
  }

  private reportWeights(): void {
    const name = this.options.primaryRoute ?? this.table.http.find((r) => !r.match)?.name;
    if (name && this.table.http.some((r) => r.name === name)) this.telemetry.weights(name, weightsOf(this.table, name));
  }

  /**
   * Runs one request's handler: a RequestError is its 4xx, a client that went
   * away gets nothing, and anything else is a 500 for this request alone.
   */
  private guard(req: http.IncomingMessage, res: http.ServerResponse, handler: () => Promise<void>): void {
    handler().catch((err: unknown) => {
      if (err instanceof ClientAbortedError) {
        this.telemetry.aborted();
        return;
      }
      if (err instanceof RequestError) return reply(res, err.status, { error: err.message }, err.headers);
      this.log.error('request failed', { method: req.method, err: err instanceof Error ? err.message : String(err) });
      reply(res, 500, { error: 'internal error in the gateway; see its log' });
    });
  }

  /** Least requests in flight; a retry avoids backends already tried (Istio's previous-hosts predicate). */
  private backendFor(subset: string, tried: ReadonlySet<URL> = new Set()): URL | undefined {
    const all = this.backends.get(subset);
    if (!all || all.length === 0) return undefined;
    const urls = all.some((u) => !tried.has(u)) ? all.filter((u) => !tried.has(u)) : all;
    let best = urls[0]!;
    for (const url of urls) if ((this.inFlight.get(url.href) ?? 0) < (this.inFlight.get(best.href) ?? 0)) best = url;
    return best;
  }

  private async proxy(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = performance.now();
    const path = req.url ?? '/';
    if (!isOriginForm(path))
      throw new RequestError(
        400,
        `request target ${JSON.stringify(path.slice(0, 200))}: only origin-form paths such as /v2/models/<model>/infer are routed; absolute URLs and //host are not`,
      );
    const body = await readBody(req, this.options.maxBodyBytes ?? 8 * 1024 * 1024);
    const route = selectRoute(this.table, pathOf(path), req.headers);
    if (!route) {
      reply(res, 404, { error: `no route matches ${req.method} ${path}` });
      return;
    }
    const destination = pickDestination(route, this.random());
    if (route.mirror && this.random() * 100 < (route.mirrorPercentage?.value ?? 100))
      void this.mirror(route.mirror, req, path, body);
    const version = destination.subset ?? destination.host;
    // A client that goes away while the upstream works is an abort (Envoy's downstream disconnect), not
    // the upstream's status; and the upstream request is cancelled rather than left to run.
    const gone = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) gone.abort();
    };
    res.once('close', onClose);
    const result = await this.forward(route, destination, req, path, body, gone.signal);
    if (gone.signal.aborted) {
      this.telemetry.aborted();
      return;
    }
    res.off('close', onClose);
    const ms = performance.now() - started;
    this.telemetry.record(version, result.status, ms, false);
    res.writeHead(result.status, { ...passable(result.headers), 'content-length': result.body.length });
    res.end(result.body);
  }

  /** Sends to the destination with the route's timeout and retries; never throws. */
  private async forward(
    route: HttpRoute,
    destination: Destination,
    req: http.IncomingMessage,
    path: string,
    body: Buffer,
    signal?: AbortSignal,
  ): Promise<Attempt> {
    const subset = destination.subset ?? destination.host;
    const attempts = 1 + (route.retries?.attempts ?? 0);
    const retryOn = route.retries?.retryOn ?? 'connect-failure,refused-stream,reset,5xx';
    const overall = route.timeout ? parseDuration(route.timeout) : 15_000;
    const perTry = route.retries?.perTryTimeout ? parseDuration(route.retries.perTryTimeout) : overall;
    const deadline = Date.now() + overall;
    let last: Attempt = {
      status: 503,
      headers: { 'content-type': 'application/json' },
      body: Buffer.from(JSON.stringify({ error: `no backend for ${subset}` })),
    };
    const tried = new Set<URL>();
    for (let attempt = 1; attempt <= attempts && !signal?.aborted; attempt++) {
      const url = this.backendFor(subset, tried);
      if (!url) return last;
      tried.add(url);
      const budget = Math.min(perTry, deadline - Date.now());
      if (budget <= 0) return gatewayError(504, `upstream ${subset} timed out after ${overall} ms`);
      this.inFlight.set(url.href, (this.inFlight.get(url.href) ?? 0) + 1);
      try {
        last = await send(
          this.agent,
          url,
          req.method ?? 'GET',
          path,
          req.headers,
          body,
          budget,
          this.options.maxResponseBytes ?? 32 * 1024 * 1024,
          signal,
        );
        if (!(last.status >= 500 && retryOn.includes('5xx'))) return last;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? '';
        const timedOut = code === 'ETIMEDOUT_WEIR';
        const garbage = code === 'EBADUPSTREAM_WEIR' || code.startsWith('HPE_');
        last = timedOut
          ? gatewayError(504, `upstream ${subset} timed out after ${budget} ms`)
          : garbage
            ? gatewayError(502, `upstream ${subset} sent an invalid answer: ${(err as Error).message}`)
            : gatewayError(503, `upstream ${subset} failed: ${code || (err as Error).message}`);
        const retriable =
          timedOut ||
          (code === 'ECONNREFUSED' && retryOn.includes('connect-failure')) ||
          (code === 'ECONNRESET' && retryOn.includes('reset'));
        if (!retriable) return last;
      } finally {
        this.inFlight.set(url.href, (this.inFlight.get(url.href) ?? 1) - 1);
      }
    }
    return last;
  }

  /** A copy to the shadow version: its answer is discarded, its metrics say mirrored. */
  private async mirror(destination: Destination, req: http.IncomingMessage, path: string, body: Buffer): Promise<void> {
    const subset = destination.subset ?? destination.host;
    const url = this.backendFor(subset);
    if (!url) return;
    const started = performance.now();
    const headers = { ...req.headers, 'x-weir-mirrored': 'true' };
    try {
      const result = await send(
        this.agent,
        url,
        req.method ?? 'GET',
        path,
        headers,
        body,
        15_000,
        this.options.maxResponseBytes ?? 32 * 1024 * 1024,
      );
      this.telemetry.record(subset, result.status, performance.now() - started, true);
    } catch {
      this.telemetry.record(subset, 503, performance.now() - started, true);
    }
  }

  private async adminRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const target = req.url ?? '/';
    if (!isOriginForm(target))
      throw new RequestError(
        400,
        `request target ${JSON.stringify(target.slice(0, 200))}: expected a path such as /routes`,
      );
    const url = pathOf(target);
    const method = req.method ?? 'GET';
    if (url === '/healthz') return reply(res, 200, { ok: true });
    if (url === '/metrics') {
      res.writeHead(200, { 'content-type': this.telemetry.registry.contentType });
      res.end(await this.telemetry.registry.metrics());
      return;
    }
    if (!bearerMatches(req.headers.authorization, this.options.token))
      return reply(
        res,
        401,
        { error: 'the admin API needs "Authorization: Bearer <token>"' },
        { 'www-authenticate': 'Bearer' },
      );
    try {
      if (url === '/routes' && method === 'GET') return reply(res, 200, this.table);
      if (url === '/routes' && method === 'PUT') {
        const text = (await readBody(req, ADMIN_MAX_BYTES)).toString('utf8');
        let document: unknown;
        try {
          document = parseYaml(text, { maxAliasCount: 50 });
        } catch (err) {
          throw new RangeError(`body: not YAML or JSON (${(err as Error).message.split('\n')[0]})`);
        }
        const table = parseRouteTable(document);
        // The whole table is the operator's now: weir's step records no longer describe it.
        this.steps.clear();
        this.setRoutes(table);
        return reply(res, 200, this.table);
      }
      const weights = /^\/routes\/([^/]+)\/weights$/.exec(url);
      if (weights) {
        const name = decodeSegment(weights[1]!, 'route name');
        const route = this.table.http.find((r) => r.name === name);
        if (!route)
          return reply(res, 404, {
            error: `route "${name}" not found; routes: ${this.table.http.map((r) => r.name ?? '(unnamed)').join(', ')}`,
          });
        if (method === 'GET') return reply(res, 200, this.describeRoute(name, route));
        if (method !== 'PUT')
          return reply(
            res,
            405,
            { error: `${method} is not allowed on ${url}; use GET or PUT` },
            { allow: 'GET, PUT' },
          );
        const text = (await readBody(req, 64 * 1024)).toString('utf8');
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch (err) {
          throw new RangeError(`body: not JSON (${(err as Error).message})`);
        }
        const change = parseWeightsChange(body, route, new Set(this.backends.keys()));
        const stepField = (body as { step?: unknown }).step;
        const step = stepField === undefined ? undefined : parseAppliedStep(stepField);
        if (stepField !== undefined && !step)
          throw new RangeError('step: not a weir step record {attempt, stepId, action, at, summary, consumed}');
        this.setRoutes(withWeights(this.table, name, change));
        if (step) this.steps.set(name, step);
        else this.steps.delete(name);
        return reply(
          res,
          200,
          this.describeRoute(
            name,
            this.table.http.find((r) => r.name === name)!,
          ),
        );
      }
      return reply(res, 404, {
        error: `no admin route ${method} ${url}; see GET /routes, PUT /routes, GET|PUT /routes/<name>/weights`,
      });
    } catch (err) {
      if (err instanceof RangeError) return reply(res, 400, { error: err.message });
      throw err;
    }
  }

  /** A route's weights, mirror and the step record weir wrote with them. */
  private describeRoute(
    name: string,
    route: HttpRoute,
  ): {
    route: string;
    weights: Record<string, number>;
    mirror?: { subset: string; percent: number };
    step?: AppliedStep;
  } {
    const step = this.steps.get(name);
    const mirror = route.mirror
      ? { subset: route.mirror.subset ?? route.mirror.host, percent: route.mirrorPercentage?.value ?? 100 }
      : undefined;
    return {
      route: name,
      weights: weightsOf(this.table, name),
      ...(mirror ? { mirror } : {}),
      ...(step ? { step } : {}),
    };
  }
}

/** The headers that may travel on: not hop-by-hop, and valid to write (a header Node parsed may still be one it refuses to send). */
function passable(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (HOP_BY_HOP.includes(name) || value === undefined) continue;
    try {
      http.validateHeaderName(name);
      for (const v of Array.isArray(value) ? value : [value]) http.validateHeaderValue(name, v);
      out[name] = value;
    } catch {
      // dropped: it cannot be written
    }
  }
  return out;
}

function gatewayError(status: number, message: string): Attempt {
  return {
    status,
    headers: { 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify({ error: message })),
  };
}

/**
 * One request to a backend: its host and port with the client's path as the
 * request target (never a URL resolved from that path). A status outside
 * 200–599 or an answer above `maxBytes` rejects with EBADUPSTREAM_WEIR.
 */
function send(
  agent: http.Agent,
  base: URL,
  method: string,
  path: string,
  headers: http.IncomingHttpHeaders,
  body: Buffer,
  timeoutMs: number,
  maxBytes: number,
  signal?: AbortSignal,
): Promise<Attempt> {
  return new Promise((resolve, reject) => {
    const forwarded = { ...passable(headers), 'content-length': body.length };
    const bad = (message: string) => Object.assign(new Error(message), { code: 'EBADUPSTREAM_WEIR' });
    let upstream: http.ClientRequest;
    try {
      upstream = http.request(
        { protocol: base.protocol, hostname: base.hostname, port: base.port, path, method, headers: forwarded, agent },
        (res) => {
          const status = res.statusCode ?? 0;
          if (!Number.isInteger(status) || status < 200 || status > 599) {
            upstream.destroy(bad(`status ${status} is not an HTTP status from 200 to 599`));
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > maxBytes) upstream.destroy(bad(`answer larger than ${maxBytes} bytes`));
            else chunks.push(c);
          });
          res.on('end', () => {
            clearTimeout(timer);
            resolve({ status, headers: res.headers, body: Buffer.concat(chunks) });
          });
          res.on('error', reject);
        },
      );
    } catch (err) {
      reject(Object.assign(err as Error, { code: 'EBADUPSTREAM_WEIR' }));
      return;
    }
    const timer = setTimeout(
      () => upstream.destroy(Object.assign(new Error('upstream timeout'), { code: 'ETIMEDOUT_WEIR' })),
      timeoutMs,
    );
    const cancel = () =>
      upstream.destroy(Object.assign(new Error('the client went away'), { code: 'ECLIENTGONE_WEIR' }));
    signal?.addEventListener('abort', cancel, { once: true });
    upstream.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    upstream.on('close', () => signal?.removeEventListener('abort', cancel));
    upstream.end(body);
  });
}
