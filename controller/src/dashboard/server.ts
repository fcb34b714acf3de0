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
import { timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../../shared/log.js';
import { commandSchema } from '../api/status.js';
import type { Command, CommandType } from '../engine/types.js';
import { UsageError } from '../../../shared/errors.js';
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
const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};
/** The page's policy: its own script, style and images; data only from this server; no frames, forms or plugins. */
export const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
/** The full report is a self-contained file: its own inline style and data: images, never a script. */
const REPORT_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; frame-ancestors 'none'";

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

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
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => this.fail(res, err, req));
    });
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 30_000;
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

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('referrer-policy', 'no-referrer');
    res.setHeader('cache-control', 'no-store');
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://dashboard');
    } catch {
      throw new HttpError(400, 'the request target is not a URL path');
    }
    if (!this.hosts.has(req.headers.host ?? ''))
      throw new HttpError(421, `this dashboard answers as ${[...this.hosts][0]}, not as "${req.headers.host ?? ''}"`);
    // Another site's page may link here (a navigation to the page itself), but neither read nor act:
    // browsers say where a request comes from, and only this page's own (or a typed address) pass.
    const site = req.headers['sec-fetch-site'];
    const asset = ASSETS[url.pathname];
    if (site !== undefined && site !== 'same-origin' && site !== 'none' && !(asset && url.pathname === '/'))
      throw new HttpError(403, `a request from another site (sec-fetch-site: ${String(site)}) is refused`);
    if (req.method === 'POST') return this.command(req, res, url);
    if (req.method !== 'GET' && !(req.method === 'HEAD' && asset))
      throw new HttpError(405, `${req.method} is not allowed at ${url.pathname}`);
    if (asset) {
      // Read first: a missing file is an error in words, not an empty 200.
      const body = await readFile(path.join(UI, asset.file));
      res.writeHead(200, { 'content-type': asset.type, 'content-security-policy': CSP });
      return void res.end(body);
    }
    switch (url.pathname) {
      case '/favicon.ico':
        // No icon: an empty answer, so the browser does not log a 404.
        return void res.writeHead(204).end();
      case '/api/rollouts':
        return this.json(res, await this.listing());
      case '/api/rollout':
        return this.json(res, { ...rolloutPage(await this.stored(url)), revision: this.revision });
      case '/api/chart': {
        const stored = await this.stored(url);
        const chart = chartsOf(stored.rollout).get(url.searchParams.get('id') ?? '');
        if (!chart) throw new HttpError(404, `no chart "${url.searchParams.get('id') ?? ''}" for ${stored.key}`);
        res.writeHead(200, { 'content-type': 'image/svg+xml', 'content-security-policy': "default-src 'none'" });
        return void res.end(chart.svg);
      }
      case '/report': {
        const stored = await this.stored(url);
        if (this.reports >= MAX_REPORTS)
          throw new HttpError(503, `${MAX_REPORTS} reports are being built already; try again in a moment`);
        this.reports++;
        let text: string;
        try {
          ({ text } = await writeReport(stored.rollout, {
            format: 'html',
            ...(this.options.prometheus ? { prometheus: this.options.prometheus } : {}),
          }));
        } finally {
          this.reports--;
        }
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': REPORT_CSP });
        return void res.end(text);
      }
      case '/api/events':
        return this.events(req, res);
      default:
        throw new HttpError(404, `nothing at ${url.pathname}`);
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
      throw new HttpError(
        400,
        'key: missing; expected the rollout key, such as price-direction or models/price-direction',
      );
    if (key.length > MAX_KEY) throw new HttpError(400, `key: ${key.length} characters is longer than ${MAX_KEY}`);
    return this.options.rollouts.get(key);
  }

  /** POST /api/command?key=K&type=approve[&full=true]: the CLI's command, with this dashboard's identity. */
  private async command(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    if (url.pathname !== '/api/command') throw new HttpError(404, `nothing to POST at ${url.pathname}`);
    // No body is read: a command is its query. Refuse one anyway, so nothing large is ever buffered.
    if (Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'])
      throw new HttpError(413, 'a command has no body; send key and type in the query');
    const sent = req.headers[TOKEN_HEADER];
    if (typeof sent !== 'string' || !sameSecret(sent, this.options.token))
      throw new HttpError(
        401,
        `${TOKEN_HEADER}: ${sent === undefined ? 'missing' : 'wrong'}; every action needs the token weir dashboard printed at start`,
      );
    const origin = req.headers.origin;
    if (origin !== undefined && !this.hosts.has(origin.replace(/^http:\/\//, '')))
      throw new HttpError(403, `origin ${origin} is not this dashboard`);
    const type = url.searchParams.get('type') ?? '';
    if (!COMMAND_TYPES.includes(type))
      throw new HttpError(
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
    this.json(res, {
      recorded,
      message: `${type}${full ? ' --full' : ''} recorded for ${stored.key} by ${by}; the controller applies it at its next reconcile`,
    });
  }

  /** GET /api/events: a server-sent event `change` whenever any rollout is written. */
  private events(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (this.listeners.size >= MAX_LISTENERS)
      throw new HttpError(503, `${MAX_LISTENERS} pages already listen; close one and reload`);
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

  private json(res: http.ServerResponse, body: unknown): void {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(body));
  }

  private fail(res: http.ServerResponse, err: unknown, req?: http.IncomingMessage): void {
    const { status, message } = errorOf(err);
    // Refusals are worth a line too (a wrong token, RBAC, another site); the token itself never is.
    if (status >= 500 || [401, 403, 421].includes(status))
      this.options.log.warn('request refused or failed', {
        status,
        method: req?.method,
        path: req?.url?.split('?')[0],
        error: message,
      });
    if (res.headersSent) return void res.end();
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify({ error: message }));
  }
}

/** An error as a status and words a person can act on: the API server's own for Kubernetes failures. */
function errorOf(err: unknown): { status: number; message: string } {
  if (err instanceof HttpError) return { status: err.status, message: err.message };
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

function sameSecret(a: string, b: string): boolean {
  const [x, y] = [Buffer.from(a), Buffer.from(b)];
  return x.length === y.length && timingSafeEqual(x, y);
}
