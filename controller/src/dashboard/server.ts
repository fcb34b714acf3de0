// `weir dashboard`: a small web server for the rollouts in a local store or a
// kube context. Reads are JSON (view.ts) and the report's SVG charts; pages
// update through server-sent events; commands go through the same store call
// as the CLI's (addCommand), with the identity of whoever runs it. In
// Kubernetes mode that is the user's own kube credentials, so RBAC decides and
// a refusal carries the API server's words.
//
// Safe by construction: every write needs the token printed at start, in a
// header (no cookies, so another site cannot make the browser act); a request
// whose Host is not this server's own is refused (DNS rebinding); the page has
// a strict CSP, loads only its own script and style, and puts data in the DOM
// as text only; charts are SVG images, which cannot run scripts.
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RequestError, UsageError } from '../../../shared/errors.js';
import {
  createServer,
  secretMatches,
  type Exchange,
  type Handler,
  type Reply,
  type Route,
} from '../../../shared/http.js';
import type { Logger } from '../../../shared/log.js';
import { commandSchema } from '../api/status.js';
import type { Command, CommandType } from '../engine/types.js';
import { kubeFailure } from '../providers/kube/client.js';
import {
  CommandRefusedError,
  InvalidRolloutError,
  type RolloutListing,
  type StoredRollout,
} from '../providers/types.js';
import { writeReport } from '../report/write.js';
import { chartsOf, invalidRow, listRow, rolloutPage } from './view.js';

/** What the dashboard needs from either store: the same calls the CLI makes. */
export interface DashboardRollouts {
  list(): Promise<RolloutListing>;
  /** One rollout by the store's key (a name locally, namespace/name in Kubernetes). */
  get(key: string): Promise<StoredRollout>;
  addCommand(key: string, command: Omit<Command, 'id'>): Promise<Command>;
  /** Who the commands are recorded as. */
  actor(): Promise<string>;
  /** Where the rollouts are, for the page's heading. */
  where: string;
  mode: 'local' | 'kubernetes';
}

export interface DashboardOptions {
  rollouts: DashboardRollouts;
  /** Required in the X-Weir-Token header of every write. */
  token: string;
  log: Logger;
  /** How often the server looks for changes while a page listens (ms). */
  refreshMs?: number;
  /** Prometheus for the full report's time series, when given. */
  prometheus?: string;
}

export const TOKEN_HEADER = 'x-weir-token';
/** Pages listening at once; more are refused with 503, so a runaway tab cannot exhaust the server. */
const MAX_LISTENERS = 32;
/** Connections at once, and full reports being built at once: bounds on what any caller can make it do. */
const MAX_CONNECTIONS = 128;
const MAX_REPORTS = 2;
const MAX_KEY = 320;
const COMMAND_TYPES: readonly string[] = commandSchema.shape.type.options;
/** The page's files, beside this module: the sources under ts-jest, dist/ when built (make build copies them). */
const UI = fileURLToPath(new URL('./ui/', import.meta.url));
/** The page's policy: its own script, style and images; data only from this server; no frames, forms or plugins. */
export const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
/** The full report is a self-contained file: its own inline style and data: images, never a script. */
const REPORT_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; frame-ancestors 'none'";

/** The dashboard's HTTP server (see the module comment). */
export class DashboardServer {
  private readonly server: http.Server;
  private readonly listeners = new Set<http.ServerResponse>();
  private poller: NodeJS.Timeout | undefined;
  private fingerprint = '';
  private revision = 0;
  private hosts = new Set<string>();
  private actor: Promise<string> | undefined;
  private polling = false;
  private reports = 0;

  constructor(private readonly options: DashboardOptions) {
    const page = (file: string, type: string): Route => ({
      method: ['GET', 'HEAD'],
      path: file === 'index.html' ? '/' : `/${file}`,
      name: file,
      // Another site's page may link to the page itself; only it.
      handler: this.guard(async ({ res }) => this.asset(res, file, type), file === 'index.html'),
    });
    const get = (path: string, handler: (exchange: Exchange, url: URL) => Promise<Reply | void> | Reply | void) => ({
      method: 'GET' as const,
      path,
      name: path,
      handler: this.guard(handler),
    });
    this.server = createServer({
      routes: [
        page('index.html', 'text/html; charset=utf-8'),
        page('app.js', 'text/javascript; charset=utf-8'),
        page('app.css', 'text/css; charset=utf-8'),
        // No icon: an empty answer, so the browser does not log a 404.
        get('/favicon.ico', ({ res }) => void res.writeHead(204).end()),
        get('/api/rollouts', async () => ({ status: 200, body: await this.listing() })),
        get('/api/rollout', async (_, url) => ({
          status: 200,
          body: { ...rolloutPage(await this.stored(url)), revision: this.revision },
        })),
        get('/api/chart', async ({ res }, url) => this.chart(res, url)),
        get('/report', async ({ res }, url) => this.report(res, url)),
        get('/api/events', ({ req, res }) => this.events(req, res)),
        {
          method: 'POST',
          path: '/api/command',
          name: 'command',
          handler: this.guard((x, url) => this.command(x.req, url)),
        },
      ],
      log: this.options.log,
      hint: 'the dashboard serves /, /api/rollouts, /api/rollout?key=K, /api/events and POST /api/command',
    });
    this.server.maxConnections = MAX_CONNECTIONS;
  }

  /** Listens on address:port (port 0: any free one); resolves with the page's URL. */
  async listen(port: number, address = '127.0.0.1'): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, address, () => resolve());
    });
    const bound = (this.server.address() as AddressInfo).port;
    const host = address.includes(':') ? `[${address}]` : address;
    // The names this server answers to; any other Host is a rebinding attempt or a mistake.
    this.hosts = new Set([`${host}:${bound}`, `localhost:${bound}`, `127.0.0.1:${bound}`, `[::1]:${bound}`]);
    return `http://${host}:${bound}/`;
  }

  async close(): Promise<void> {
    if (this.poller) clearInterval(this.poller);
    for (const res of this.listeners) res.end();
    this.listeners.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /**
   * What every route does first: the safety headers, this server's own Host
   * only, and no request another site's page makes (browsers say where a
   * request comes from; this page's own and a typed address pass) unless
   * `linkable`. Errors become answers in words, and refusals a log line.
   */
  private guard(
    handler: (exchange: Exchange, url: URL) => Promise<Reply | void> | Reply | void,
    linkable = false,
  ): Handler {
    return async (exchange) => {
      const { req, res } = exchange;
      res.setHeader('x-content-type-options', 'nosniff');
      res.setHeader('referrer-policy', 'no-referrer');
      res.setHeader('cache-control', 'no-store');
      try {
        if (!this.hosts.has(req.headers.host ?? ''))
          throw new RequestError(
            421,
            `this dashboard answers as ${[...this.hosts][0]}, not as "${req.headers.host ?? ''}"`,
          );
        const site = req.headers['sec-fetch-site'];
        if (site !== undefined && site !== 'same-origin' && site !== 'none' && !linkable)
          throw new RequestError(403, `a request from another site (sec-fetch-site: ${String(site)}) is refused`);
        // createServer answered anything but an origin-form target already.
        return await handler(exchange, new URL(req.url ?? '/', 'http://dashboard'));
      } catch (err) {
        const { status, message } = errorOf(err);
        // Refusals are worth a line too (a wrong token, RBAC, another site); the token itself never is.
        if (status >= 500 || [401, 403, 421].includes(status))
          this.options.log.warn('request refused or failed', {
            status,
            method: req.method,
            path: exchange.path,
            error: message,
          });
        throw new RequestError(status, message);
      }
    };
  }

  /** One of the page's files; read first, so a missing one is an error in words, not an empty 200. */
  private async asset(res: http.ServerResponse, file: string, type: string): Promise<void> {
    const body = await readFile(path.join(UI, file));
    res.writeHead(200, { 'content-type': type, 'content-security-policy': CSP });
    res.end(body);
  }

  /** One of the report's charts, as an SVG image. */
  private async chart(res: http.ServerResponse, url: URL): Promise<void> {
    const stored = await this.stored(url);
    const chart = chartsOf(stored.rollout).get(url.searchParams.get('id') ?? '');
    if (!chart) throw new RequestError(404, `no chart "${url.searchParams.get('id') ?? ''}" for ${stored.key}`);
    res.writeHead(200, { 'content-type': 'image/svg+xml', 'content-security-policy': "default-src 'none'" });
    res.end(chart.svg);
  }

  /** The full report (weir report), at most MAX_REPORTS built at once. */
  private async report(res: http.ServerResponse, url: URL): Promise<void> {
    const stored = await this.stored(url);
    if (this.reports >= MAX_REPORTS)
      throw new RequestError(503, `${MAX_REPORTS} reports are being built already; try again in a moment`);
    this.reports++;
    try {
      const { text } = await writeReport(stored.rollout, {
        format: 'html',
        ...(this.options.prometheus ? { prometheus: this.options.prometheus } : {}),
      });
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': REPORT_CSP });
      res.end(text);
    } finally {
      this.reports--;
    }
  }

  private async listing() {
    const { rollouts, invalid } = await this.options.rollouts.list();
    const now = Date.now();
    return {
      where: this.options.rollouts.where,
      mode: this.options.rollouts.mode,
      revision: this.revision,
      rows: [...rollouts.map((r) => listRow(r, now)), ...invalid.map(invalidRow)],
    };
  }

  private async stored(url: URL): Promise<StoredRollout> {
    const key = url.searchParams.get('key');
    if (!key)
      throw new RequestError(
        400,
        'key: missing; expected the rollout key, such as price-direction or models/price-direction',
      );
    if (key.length > MAX_KEY) throw new RequestError(400, `key: ${key.length} characters is longer than ${MAX_KEY}`);
    return this.options.rollouts.get(key);
  }

  /** POST /api/command?key=K&type=approve[&full=true]: the CLI's command, with this dashboard's identity. */
  private async command(req: http.IncomingMessage, url: URL): Promise<Reply> {
    // No body is read: a command is its query. Refuse one anyway, so nothing large is ever buffered.
    if (Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'])
      throw new RequestError(413, 'a command has no body; send key and type in the query');
    const sent = req.headers[TOKEN_HEADER];
    if (typeof sent !== 'string' || !secretMatches(sent, this.options.token))
      throw new RequestError(
        401,
        `${TOKEN_HEADER}: ${sent === undefined ? 'missing' : 'wrong'}; every action needs the token weir dashboard printed at start`,
      );
    const origin = req.headers.origin;
    if (origin !== undefined && !this.hosts.has(origin.replace(/^http:\/\//, '')))
      throw new RequestError(403, `origin ${origin} is not this dashboard`);
    const type = url.searchParams.get('type') ?? '';
    if (!COMMAND_TYPES.includes(type))
      throw new RequestError(
        400,
        `type: "${type.slice(0, 40)}" is not a command; expected one of ${COMMAND_TYPES.join(', ')}`,
      );
    const stored = await this.stored(url);
    const full = url.searchParams.get('full') === 'true';
    // Asked once; a failed lookup (an API server blip) is asked again next time, not kept.
    const by = await (this.actor ??= this.options.rollouts.actor().catch((err: unknown) => {
      this.actor = undefined;
      throw err;
    }));
    const recorded = await this.options.rollouts.addCommand(stored.key, {
      type: type as CommandType,
      by,
      at: new Date().toISOString(),
      ...(full ? { full: true } : {}),
    });
    this.options.log.always('command recorded', { rollout: stored.key, type, by, full });
    this.poll();
    return {
      status: 200,
      body: {
        recorded,
        message: `${type}${full ? ' --full' : ''} recorded for ${stored.key} by ${by}; the controller applies it at its next reconcile`,
      },
    };
  }

  /** GET /api/events: a server-sent event `change` whenever any rollout is written. */
  private events(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (this.listeners.size >= MAX_LISTENERS)
      throw new RequestError(503, `${MAX_LISTENERS} pages already listen; close one and reload`);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    res.write(`retry: 2000\nevent: change\ndata: ${JSON.stringify({ revision: this.revision })}\n\n`);
    this.listeners.add(res);
    req.on('close', () => {
      this.listeners.delete(res);
      if (this.listeners.size === 0 && this.poller) {
        clearInterval(this.poller);
        this.poller = undefined;
      }
    });
    this.poller ??= setInterval(() => this.poll(), this.options.refreshMs ?? 1000);
  }

  /** Lists the rollouts; on any change (a write, a new or removed rollout), tells every listening page. */
  private poll(): void {
    // One list at a time: a slow store is not asked again before it answered.
    if (this.polling) return;
    this.polling = true;
    this.options.rollouts
      .list()
      .then(({ rollouts, invalid }) => {
        const print = [...rollouts.map((r) => `${r.key}@${r.revision}`), ...invalid.map((i) => `${i.key}!${i.reason}`)]
          .sort()
          .join('\n');
        if (print === this.fingerprint) return;
        this.fingerprint = print;
        this.revision++;
        for (const res of this.listeners)
          res.write(`event: change\ndata: ${JSON.stringify({ revision: this.revision })}\n\n`);
      })
      .catch((err: unknown) => {
        const message = errorOf(err).message;
        for (const res of this.listeners) res.write(`event: problem\ndata: ${JSON.stringify({ message })}\n\n`);
      })
      .finally(() => (this.polling = false));
  }
}

/** An error as a status and words a person can act on: the API server's own for Kubernetes failures. */
function errorOf(err: unknown): { status: number; message: string } {
  if (err instanceof RequestError) return { status: err.status, message: err.message };
  if (err instanceof CommandRefusedError)
    return { status: 409, message: `${err.key}: ${err.message} (recorded in its status)` };
  if (err instanceof InvalidRolloutError) return { status: 422, message: err.message };
  // The file store's words: a name that is not a DNS label, or no such file.
  if (err instanceof UsageError) return { status: /not found/.test(err.message) ? 404 : 400, message: err.message };
  const failure = kubeFailure(err);
  if (failure.code === 403)
    return {
      status: 403,
      message: `${failure.message} (the weir-approver ClusterRole grants commands; see manifests/rbac/approver.yaml)`,
    };
  if (failure.code === 404) return { status: 404, message: failure.message };
  if (failure.code !== undefined) return { status: 502, message: `the API server said: ${failure.message}` };
  return { status: 500, message: failure.message };
}
