// The local gateway: for predictor processes, what Istio's sidecars do for pods.
// Weighted routing by a VirtualService-shaped table, header and cookie matches,
// mirroring, timeouts and retries, least-request balancing (upstream.ts), Istio
// telemetry, and an admin API behind a token (admin.ts). A new table applies to
// the next request; requests in flight finish on the backend they were given.
//
// It only ever forwards to its configured backends: a request target must be
// an origin-form path. Any input gets a 4xx naming what was wrong; upstream
// garbage becomes a 502; an unexpected error fails that one request with a 500,
// never the process.
import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { RequestError, UsageError } from '../../../../shared/errors.js';
import { createServer, readBody, type Exchange } from '../../../../shared/http.js';
import type { Logger } from '../../../../shared/log.js';
import type { AppliedStep } from '../../engine/types.js';
import { adminRoutes } from './admin.js';
import {
  pickEntry,
  selectRoute,
  weightsOf,
  withWeights,
  type Destination,
  type RouteTable,
  type WeightsChange,
} from './routes.js';
import { GatewayTelemetry } from './telemetry.js';
import { Backends, passable } from './upstream.js';

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
  /**
   * Fault injection for demos and tests, as Istio's route faults are: this share
   * of the requests the route sends to `from` goes to `to` instead, and is
   * counted there (what `weir demo --scenario srm` makes the sample-ratio check
   * find).
   */
  divert?: { from: string; to: string; percent: number };
}

/** The local gateway: a data port that routes by the table, and an admin port (see the module comment). */
export class Gateway {
  readonly telemetry: GatewayTelemetry;
  private table: RouteTable;
  private readonly backends: Backends;
  /** The step record weir keeps with each route's weights (see AppliedStep); cleared when the whole table is replaced. */
  private readonly steps = new Map<string, AppliedStep>();
  private readonly data: http.Server;
  private readonly admin: http.Server;
  private readonly random: () => number;

  constructor(
    private readonly options: GatewayOptions,
    private readonly log: Logger,
  ) {
    if (options.token.length < 16) throw new UsageError('gateway token: must be at least 16 characters');
    this.table = options.table;
    this.random = options.random ?? Math.random;
    this.backends = new Backends(options.backends, options.maxResponseBytes, this.random);
    this.telemetry = new GatewayTelemetry(options.service);
    this.reportWeights();
    // Every request goes to the proxy: routing is by the VirtualService-shaped table, not by path.
    this.data = createServer({
      routes: [],
      fallback: (x) => this.proxy(x),
      log,
      onAbort: () => this.telemetry.aborted(),
      timeouts: { requestMs: 60_000 },
    });
    this.admin = createServer({
      routes: adminRoutes(this, options.token),
      log,
      hint: 'see GET /routes, PUT /routes, GET|PUT /routes/<name>/weights',
    });
  }

  get routes(): RouteTable {
    return this.table;
  }

  /** The versions the gateway has backends for. */
  get versions(): string[] {
    return this.backends.versions;
  }

  /** The operator's whole new table: weir's step records no longer describe it. */
  replaceTable(table: RouteTable): void {
    this.steps.clear();
    this.setRoutes(table);
  }

  /** One route's weights (and mirror), with the step record weir keeps beside them (none: the record goes). */
  changeWeights(name: string, change: WeightsChange, step: AppliedStep | undefined): void {
    this.setRoutes(withWeights(this.table, name, change));
    if (step) this.steps.set(name, step);
    else this.steps.delete(name);
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
    this.backends.close();
  }

  private reportWeights(): void {
    const name = this.options.primaryRoute ?? this.table.http.find((r) => !r.match)?.name;
    if (name && this.table.http.some((r) => r.name === name)) this.telemetry.weights(name, weightsOf(this.table, name));
  }

  /** The destination after the `divert` fault, when one is set. */
  private diverted(destination: Destination): Destination {
    const divert = this.options.divert;
    if (!divert || (destination.subset ?? destination.host) !== divert.from || this.random() * 100 >= divert.percent)
      return destination;
    return { ...destination, subset: divert.to };
  }

  /** Forwards one request by the route table; writes the answer itself. */
  private async proxy({ req, res, path: pathOnly }: Exchange): Promise<void> {
    const started = performance.now();
    const path = req.url ?? '/';
    const body = await readBody(req, this.options.maxBodyBytes ?? 8 * 1024 * 1024);
    const route = selectRoute(this.table, pathOnly, req.headers);
    if (!route) throw new RequestError(404, `no route matches ${req.method} ${path}`);
    const entry = pickEntry(route, this.random());
    const destination = this.diverted(entry.destination);
    // Response headers the route entry adds (weir's sticky cookie), unless a fault diverted the request elsewhere.
    const added = destination === entry.destination ? entry.headers?.response?.add : undefined;
    // As Envoy does: every request carries an x-request-id, the same on its mirrored copy, so the
    // versions that answered one request log their predictions under one id.
    if (typeof req.headers['x-request-id'] !== 'string' || req.headers['x-request-id'] === '')
      req.headers['x-request-id'] = randomUUID();
    if (route.mirror && this.random() * 100 < (route.mirrorPercentage?.value ?? 100))
      void this.mirror(route.mirror.subset ?? route.mirror.host, req, path, body);
    const version = destination.subset ?? destination.host;
    // A client that goes away while the upstream works is an abort (Envoy's downstream disconnect), not
    // the upstream's status; and the upstream request is cancelled rather than left to run.
    const gone = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) gone.abort();
    };
    res.once('close', onClose);
    const result = await this.backends.forward(route, destination, req, path, body, gone.signal);
    if (gone.signal.aborted) {
      this.telemetry.aborted();
      return;
    }
    res.off('close', onClose);
    const ms = performance.now() - started;
    this.telemetry.record(version, result.status, ms, false);
    res.writeHead(result.status, {
      ...passable(result.headers),
      ...(added && Object.fromEntries(Object.entries(added).map(([k, v]) => [k.toLowerCase(), v]))),
      'content-length': result.body.length,
    });
    res.end(result.body);
  }

  /** A copy to the shadow version: its answer is discarded, its metrics say mirrored. */
  private async mirror(subset: string, req: http.IncomingMessage, path: string, body: Buffer): Promise<void> {
    const started = performance.now();
    const status = await this.backends.mirror(subset, req, path, body);
    if (status !== undefined) this.telemetry.record(subset, status, performance.now() - started, true);
  }

  /** A route's weights, mirror and the step record weir wrote with them. */
  describeRoute(name: string): {
    route: string;
    weights: Record<string, number>;
    mirror?: { subset: string; percent: number };
    step?: AppliedStep;
  } {
    const route = this.table.http.find((r) => r.name === name)!;
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
