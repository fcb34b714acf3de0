// The local gateway: for predictor processes, what Istio's sidecars do for pods.
// Weighted routing by a VirtualService-shaped table, header and cookie matches,
// mirroring, timeouts and retries, least-request balancing, Istio telemetry,
// and an admin API behind a token. A new table applies to the next request;
// requests in flight finish on the backend they were given.
import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { parseDuration } from '../../../../predictor/src/duration.js';
import type { Logger } from '../../../../predictor/src/log.js';
import { GatewayTelemetry } from './telemetry.js';
import { parseRouteTable, pickDestination, selectRoute, weightsOf, withWeights, type Destination, type HttpRoute, type RouteTable } from './routes.js';

export interface GatewayOptions {
  table: RouteTable;
  /** Backend base URLs per subset (version). Several per version are balanced by least requests. */
  backends: Record<string, string[]>;
  /** destination_service label value. */
  service: string;
  /** Bearer token for the admin API; required. */
  token: string;
  maxBodyBytes?: number;
  /** Route whose weights are reported as weir_gateway_route_weight. */
  primaryRoute?: string;
  random?: () => number;
}

interface Attempt {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

const HOP_BY_HOP = ['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer', 'host', 'content-length'];

export class Gateway {
  readonly telemetry: GatewayTelemetry;
  private table: RouteTable;
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
    this.random = options.random ?? Math.random;
    this.telemetry = new GatewayTelemetry(options.service);
    this.reportWeights();
    this.data = http.createServer({ requestTimeout: 60_000 }, (req, res) => void this.proxy(req, res));
    this.admin = http.createServer((req, res) => void this.adminRequest(req, res));
  }

  get routes(): RouteTable {
    return this.table;
  }

  /** Replaces the table; the next request sees it. */
  setRoutes(table: RouteTable): void {
    this.table = table;
    this.reportWeights();
    this.log.info('routes updated', { routes: table.http.map((r) => ({ name: r.name, weights: r.route.map((d) => `${d.destination.subset ?? d.destination.host}=${d.weight ?? 100}`).join(',') })) });
  }

  async listen(port: number, adminPort: number, host = '127.0.0.1'): Promise<{ port: number; adminPort: number }> {
    const bind = (server: http.Server, p: number) =>
      new Promise<number>((resolve, reject) => {
        server.once('error', reject);
        server.listen(p, host, () => resolve((server.address() as AddressInfo).port));
      });
    return { port: await bind(this.data, port), adminPort: await bind(this.admin, adminPort) };
  }

  async close(): Promise<void> {
    await Promise.all([new Promise((r) => this.data.close(r)), new Promise((r) => this.admin.close(r))]);
    this.agent.destroy();
  }

  private reportWeights(): void {
    const name = this.options.primaryRoute ?? this.table.http.find((r) => !r.match)?.name;
    if (name && this.table.http.some((r) => r.name === name)) this.telemetry.weights(name, weightsOf(this.table, name));
  }

  /** Least requests in flight; a retry avoids backends already tried (Istio's previous-hosts predicate). */
  private backendFor(subset: string, tried: ReadonlySet<string> = new Set()): string | undefined {
    const all = this.options.backends[subset];
    if (!all || all.length === 0) return undefined;
    const urls = all.some((u) => !tried.has(u)) ? all.filter((u) => !tried.has(u)) : all;
    let best = urls[0]!;
    for (const url of urls) if ((this.inFlight.get(url) ?? 0) < (this.inFlight.get(best) ?? 0)) best = url;
    return best;
  }

  private async proxy(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = performance.now();
    const path = req.url ?? '/';
    let body: Buffer;
    try {
      body = await readBody(req, this.options.maxBodyBytes ?? 8 * 1024 * 1024);
    } catch (err) {
      reply(res, 413, { error: (err as Error).message });
      return;
    }
    const route = selectRoute(this.table, path.split('?')[0]!, req.headers);
    if (!route) {
      reply(res, 404, { error: `no route matches ${req.method} ${path}` });
      return;
    }
    const destination = pickDestination(route, this.random());
    if (route.mirror && this.random() * 100 < (route.mirrorPercentage?.value ?? 100)) void this.mirror(route.mirror, req, path, body);
    const version = destination.subset ?? destination.host;
    const result = await this.forward(route, destination, req, path, body);
    const ms = performance.now() - started;
    this.telemetry.record(version, result.status, ms, false);
    const headers: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(result.headers)) if (!HOP_BY_HOP.includes(k) && v !== undefined) headers[k] = v;
    headers['content-length'] = result.body.length;
    res.writeHead(result.status, headers);
    res.end(result.body);
  }

  /** Sends to the destination with the route's timeout and retries; never throws. */
  private async forward(route: HttpRoute, destination: Destination, req: http.IncomingMessage, path: string, body: Buffer): Promise<Attempt> {
    const subset = destination.subset ?? destination.host;
    const attempts = 1 + (route.retries?.attempts ?? 0);
    const retryOn = route.retries?.retryOn ?? 'connect-failure,refused-stream,reset,5xx';
    const overall = route.timeout ? parseDuration(route.timeout) : 15_000;
    const perTry = route.retries?.perTryTimeout ? parseDuration(route.retries.perTryTimeout) : overall;
    const deadline = Date.now() + overall;
    let last: Attempt = { status: 503, headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify({ error: `no backend for ${subset}` })) };
    const tried = new Set<string>();
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const url = this.backendFor(subset, tried);
      if (!url) return last;
      tried.add(url);
      const budget = Math.min(perTry, deadline - Date.now());
      if (budget <= 0) return gatewayError(504, `upstream ${subset} timed out after ${overall} ms`);
      this.inFlight.set(url, (this.inFlight.get(url) ?? 0) + 1);
      try {
        last = await send(this.agent, url, req.method ?? 'GET', path, req.headers, body, budget);
        if (!(last.status >= 500 && retryOn.includes('5xx'))) return last;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? '';
        const timedOut = code === 'ETIMEDOUT_WEIR';
        last = timedOut ? gatewayError(504, `upstream ${subset} timed out after ${budget} ms`) : gatewayError(503, `upstream ${subset} failed: ${code || (err as Error).message}`);
        const retriable = timedOut || (code === 'ECONNREFUSED' && retryOn.includes('connect-failure')) || (code === 'ECONNRESET' && retryOn.includes('reset'));
        if (!retriable) return last;
      } finally {
        this.inFlight.set(url, (this.inFlight.get(url) ?? 1) - 1);
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
      const result = await send(this.agent, url, req.method ?? 'GET', path, headers, body, 15_000);
      this.telemetry.record(subset, result.status, performance.now() - started, true);
    } catch {
      this.telemetry.record(subset, 503, performance.now() - started, true);
    }
  }

  private authorized(req: http.IncomingMessage): boolean {
    const given = Buffer.from(String(req.headers.authorization ?? '').replace(/^Bearer\s+/i, ''));
    const expected = Buffer.from(this.options.token);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private async adminRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = (req.url ?? '/').split('?')[0]!;
    if (url === '/healthz') return reply(res, 200, { ok: true });
    if (url === '/metrics') {
      res.writeHead(200, { 'content-type': this.telemetry.registry.contentType });
      res.end(await this.telemetry.registry.metrics());
      return;
    }
    if (!this.authorized(req)) return reply(res, 401, { error: 'the admin API needs "Authorization: Bearer <token>"' }, { 'www-authenticate': 'Bearer' });
    try {
      if (url === '/routes' && req.method === 'GET') return reply(res, 200, this.table);
      if (url === '/routes' && req.method === 'PUT') {
        const text = (await readBody(req, 1024 * 1024)).toString('utf8');
        this.setRoutes(parseRouteTable(parseYaml(text)));
        return reply(res, 200, this.table);
      }
      const weights = /^\/routes\/([^/]+)\/weights$/.exec(url);
      if (weights && req.method === 'PUT') {
        const body = JSON.parse((await readBody(req, 64 * 1024)).toString('utf8')) as { weights?: Record<string, number>; mirror?: { subset: string; percent: number } };
        if (!body.weights || typeof body.weights !== 'object') throw new RangeError('weights: expected {"weights": {"v1": 90, "v2": 10}}');
        this.setRoutes(withWeights(this.table, decodeURIComponent(weights[1]!), body.weights, body.mirror));
        return reply(res, 200, { route: weights[1], weights: weightsOf(this.table, decodeURIComponent(weights[1]!)) });
      }
      return reply(res, 404, { error: `no admin route ${req.method} ${url}; see GET /routes, PUT /routes, PUT /routes/<name>/weights` });
    } catch (err) {
      return reply(res, 400, { error: (err as Error).message });
    }
  }
}

function gatewayError(status: number, message: string): Attempt {
  return { status, headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify({ error: message })) };
}

function reply(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new Error(`request body is larger than ${limit} bytes`));
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

function send(agent: http.Agent, base: string, method: string, path: string, headers: http.IncomingHttpHeaders, body: Buffer, timeoutMs: number): Promise<Attempt> {
  return new Promise((resolve, reject) => {
    const forwarded: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(headers)) if (!HOP_BY_HOP.includes(k) && v !== undefined) forwarded[k] = v;
    forwarded['content-length'] = body.length;
    const upstream = http.request(new URL(path, base), { method, headers: forwarded, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) });
      });
      res.on('error', reject);
    });
    const timer = setTimeout(() => upstream.destroy(Object.assign(new Error('upstream timeout'), { code: 'ETIMEDOUT_WEIR' })), timeoutMs);
    upstream.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    upstream.end(body);
  });
}
