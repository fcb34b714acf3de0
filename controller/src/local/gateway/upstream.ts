// The gateway's side facing the backends: each version's backend URLs, least
// requests balancing, and forwarding with the route's timeout and retries. A
// request is sent to a backend's host and port with the client's path as the
// request target, never to a URL resolved from that path, so nothing but the
// configured backends can ever be reached.
import http from 'node:http';
import { parseDuration } from '../../../../shared/duration.js';
import type { Destination, HttpRoute } from './routes.js';
import { UsageError } from '../../../../shared/errors.js';

export interface Attempt {
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

/** The configured backends, by version; a Map, so no request can reach a prototype property. */
export class Backends {
  private readonly urls: Map<string, URL[]>;
  private readonly inFlight = new Map<string, number>();
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

  constructor(
    backends: Record<string, string[]>,
    private readonly maxResponseBytes = 32 * 1024 * 1024,
    private readonly random: () => number = Math.random,
  ) {
    this.urls = new Map(
      Object.entries(backends).map(([subset, urls]) => [
        subset,
        urls.map((u) => {
          const url = new URL(u);
          if (url.protocol !== 'http:') throw new UsageError(`backend ${subset}: "${u}" is not an http:// URL`);
          return url;
        }),
      ]),
    );
  }

  /** The versions that have backends. */
  get versions(): string[] {
    return [...this.urls.keys()];
  }

  /**
   * Envoy's LEAST_REQUEST for equal weights: the fewer in flight of two
   * backends drawn at random (power of two choices), so ties spread at random;
   * a retry avoids backends already tried (Istio's previous-hosts predicate).
   * Taking the first of equals instead sent a lightly loaded version's whole
   * traffic to one replica and left the others cold.
   */
  pick(subset: string, tried: ReadonlySet<URL> = new Set()): URL | undefined {
    const all = this.urls.get(subset);
    if (!all || all.length === 0) return undefined;
    const urls = all.some((u) => !tried.has(u)) ? all.filter((u) => !tried.has(u)) : all;
    if (urls.length === 1) return urls[0]!;
    const i = Math.floor(this.random() * urls.length) % urls.length;
    // The second draw is from the others, so the two are distinct.
    const j = (i + 1 + (Math.floor(this.random() * (urls.length - 1)) % (urls.length - 1))) % urls.length;
    const [a, b] = [urls[i]!, urls[j]!];
    return this.load(b) < this.load(a) ? b : a;
  }

  private load(url: URL): number {
    return this.inFlight.get(url.href) ?? 0;
  }

  /** Runs `work` with `url` counted in flight, so the balancer sees it. */
  private async counted<T>(url: URL, work: () => Promise<T>): Promise<T> {
    this.inFlight.set(url.href, this.load(url) + 1);
    try {
      return await work();
    } finally {
      this.inFlight.set(url.href, this.load(url) - 1);
    }
  }

  /** Sends to the destination with the route's timeout and retries; never throws. */
  async forward(
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
      const url = this.pick(subset, tried);
      if (!url) return last;
      tried.add(url);
      const budget = Math.min(perTry, deadline - Date.now());
      if (budget <= 0) return gatewayError(504, `upstream ${subset} timed out after ${overall} ms`);
      try {
        last = await this.counted(url, () =>
          send(this.agent, url, req.method ?? 'GET', path, req.headers, body, budget, this.maxResponseBytes, signal),
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
      }
    }
    return last;
  }

  /** A copy to the shadow version, with `x-weir-mirrored: true`; resolves with its status (503 when it failed), never rejects. */
  async mirror(subset: string, req: http.IncomingMessage, path: string, body: Buffer): Promise<number | undefined> {
    const url = this.pick(subset);
    if (!url) return undefined;
    try {
      // Counted in flight like any request: the shadow's replicas share the copies as they would users.
      return (
        await this.counted(url, () =>
          send(
            this.agent,
            url,
            req.method ?? 'GET',
            path,
            { ...req.headers, 'x-weir-mirrored': 'true' },
            body,
            15_000,
            this.maxResponseBytes,
          ),
        )
      ).status;
    } catch {
      return 503;
    }
  }

  close(): void {
    this.agent.destroy();
  }
}

/** The headers that may travel on: not hop-by-hop, and valid to write (a header Node parsed may still be one it refuses to send). */
export function passable(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
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
