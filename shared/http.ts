// The small HTTP toolkit every weir server shares (predictor, gateway,
// controller): routing (find-my-way), request bodies read within a limit,
// client aborts told apart from errors, bearer tokens checked the one way
// RFC 6750 allows, JSON replies, and one place that turns an error into a
// status. A server built with it answers any input with a 4xx naming what was
// wrong, or its handler's answer; an unexpected error is a 500 for that
// request only.
import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import FindMyWay, { type HTTPMethod } from 'find-my-way';
import { RequestError } from './errors.js';
import type { Logger } from './log.js';

/** The client went away before its request was read (an aborted upload): not an error of ours, nobody to answer. */
export class ClientAbortedError extends Error {
  override name = 'ClientAbortedError';
}

/**
 * Reads the body, refusing with 413 past `limit` bytes without buffering the
 * excess (a declared Content-Length above the limit is refused before reading).
 * A client that disconnects mid-body rejects with ClientAbortedError.
 */
export function readBody(req: http.IncomingMessage, limit: number, flag = '--max-body-bytes'): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    return Promise.reject(
      new RequestError(413, `request body: ${declared} bytes is larger than the limit of ${limit} bytes (${flag})`),
    );
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.resume();
        reject(new RequestError(413, `request body: more than the limit of ${limit} bytes (${flag})`));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', (err) =>
      reject(
        req.destroyed || (err as NodeJS.ErrnoException).code === 'ECONNRESET'
          ? new ClientAbortedError(err.message)
          : err,
      ),
    );
    req.once('close', () => {
      if (!req.complete) reject(new ClientAbortedError('the client closed the connection before the body ended'));
    });
  });
}

/** Parses JSON text, or answers 400 naming what is wrong with it (an empty body included). */
export function parseJsonBody(text: string, what = 'request body'): unknown {
  if (text.length === 0) throw new RequestError(400, `${what}: empty; expected JSON`);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new RequestError(400, `${what}: invalid JSON (${(err as Error).message.slice(0, 200)})`);
  }
}

/**
 * Whether an Authorization header carries `token` with the Bearer scheme
 * (RFC 6750 §2.1: the scheme is case-insensitive, the token is not). A bare
 * token without the scheme does not count. Compared in constant time.
 */
export function bearerMatches(header: string | string[] | undefined, token: string): boolean {
  if (typeof header !== 'string') return false;
  const match = /^Bearer +(\S+) *$/i.exec(header);
  return match !== null && secretMatches(match[1]!, token);
}

/** Whether `given` is `token`, compared in constant time (no early exit an attacker could time). */
export function secretMatches(given: string, token: string): boolean {
  const [a, b] = [Buffer.from(given), Buffer.from(token)];
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Throws 401 (with WWW-Authenticate) unless the request carries `token` as a bearer token. */
export function requireBearer(req: http.IncomingMessage, token: string, what: string): void {
  if (!bearerMatches(req.headers.authorization, token)) {
    throw new RequestError(401, `${what} needs "Authorization: Bearer <token>"`, { 'www-authenticate': 'Bearer' });
  }
}

/** decodeURIComponent that answers 400 naming the segment, instead of throwing URIError. */
export function decodeSegment(segment: string, field: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new RequestError(400, `${field}: ${JSON.stringify(segment.slice(0, 100))} is not valid percent-encoding`);
  }
}

/**
 * Whether a request target is in origin form (RFC 9112 §3.2.1: an absolute
 * path, optionally with a query). Absolute form (http://host/...), authority
 * form, "*", and paths that a URL parser would read as a host (//host,
 * /\host) are not.
 */
export function isOriginForm(target: string): boolean {
  return (
    target.startsWith('/') && !target.startsWith('//') && !target.startsWith('/\\') && !/[\s\\]/.test(pathOf(target))
  );
}

/** The path of a request target, without its query. */
export function pathOf(target: string | undefined): string {
  const text = target ?? '/';
  const query = text.indexOf('?');
  return query === -1 ? text : text.slice(0, query);
}

/** Answers with a JSON body (nothing, when the answer already started or the client is gone). */
export function sendJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

/** CONNECT (a tunnel request) gets a 405 instead of a dropped connection: these servers route paths, not tunnels. */
export function refuseTunnels(server: http.Server): http.Server {
  server.on('connect', (_req: http.IncomingMessage, socket: Duplex) => {
    const body = '{"error":"CONNECT is not allowed: this server answers origin-form requests such as GET /metrics"}';
    socket.on('error', () => undefined);
    // Destroyed once written, not merely half-closed: a client that never closes its side must not hold the socket.
    socket.end(
      `HTTP/1.1 405 Method Not Allowed\r\nallow: GET, HEAD, POST, PUT\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
      () => socket.destroy(),
    );
  });
  return server;
}

/** An answer: status, a JSON body (or text), and headers. */
export interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** The answer to GET /metrics: a prom-client registry's text exposition. */
export async function metricsReply(registry: { metrics(): Promise<string>; contentType: string }): Promise<Reply> {
  return { status: 200, body: await registry.metrics(), headers: { 'content-type': registry.contentType } };
}

/** One request as a handler sees it. */
export interface Exchange {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  /** The path without its query. */
  path: string;
  /** Path parameters, percent-decoded. */
  params: Record<string, string>;
  /** The matched route's name, when one matched. */
  route: string | undefined;
  /** Labels a handler sets for the server's hooks (the version that answered, say). */
  labels: Record<string, string>;
}

/** Returns the reply to send, or nothing when it wrote the response itself. */
export type Handler = (exchange: Exchange) => Promise<Reply | void> | Reply | void;

/** One route: method(s), a find-my-way path, a name for metrics, and its handler. */
export interface Route {
  method: HTTPMethod | HTTPMethod[];
  path: string;
  /** For metrics and logs (the predictor's `endpoint` label). */
  name: string;
  handler: Handler;
}

/** How createServer builds a server: its routes, what answers the rest, and hooks for metrics. */
export interface ServerOptions {
  routes: Route[];
  log: Logger;
  /** Answers what no route matches (the gateway's proxy); default: 404 naming the method and path, plus `hint`. */
  fallback?: Handler;
  hint?: string;
  /** After each answered request (not aborts). */
  onReply?(exchange: Exchange, status: number, seconds: number): void;
  /** A client that went away before its answer (mid-upload or while the handler worked). */
  onAbort?(exchange: Exchange): void;
  /** Extra headers on every reply, such as connection: close while draining. */
  headers?(exchange: Exchange): Record<string, string>;
  timeouts?: { requestMs?: number; headersMs?: number; keepAliveMs?: number };
}

const METHODS: HTTPMethod[] = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];

/** An HTTP server that routes with find-my-way and answers through one error path (see the module comment). */
export function createServer(options: ServerOptions): http.Server {
  const router = FindMyWay();
  for (const route of options.routes) router.on(route.method, route.path, () => undefined, route);
  const notFound: Handler = ({ req, path }) => {
    throw new RequestError(404, `no route for ${req.method} ${path}${options.hint ? `; ${options.hint}` : ''}`);
  };
  const serve = async (exchange: Exchange): Promise<Reply | void> => {
    const { req, path } = exchange;
    const target = req.url ?? '/';
    if (!isOriginForm(target)) {
      throw new RequestError(
        400,
        `request target ${JSON.stringify(target.slice(0, 200))}: expected a path such as /metrics`,
      );
    }
    // Only a '%' can make percent-decoding fail; a path without one needs no check (the hot path).
    if (path.includes('%')) for (const segment of path.split('/')) decodeSegment(segment, 'request path');
    const method = (req.method ?? 'GET') as HTTPMethod;
    const found = METHODS.includes(method) ? router.find(method, path) : null;
    if (!found) {
      const allowed = METHODS.filter((m) => router.find(m, path) !== null);
      if (allowed.length > 0 && !options.fallback) {
        throw new RequestError(405, `${req.method} is not allowed on ${path}; use ${allowed.join(' or ')}`, {
          allow: allowed.join(', '),
        });
      }
      return (options.fallback ?? notFound)(exchange);
    }
    const route = found.store as Route;
    exchange.route = route.name;
    const params: Record<string, string> = {};
    for (const name in found.params) params[name] = found.params[name] ?? '';
    exchange.params = params;
    return route.handler(exchange);
  };
  const server = http.createServer(
    {
      requestTimeout: options.timeouts?.requestMs ?? 30_000,
      headersTimeout: options.timeouts?.headersMs ?? 10_000,
      keepAliveTimeout: options.timeouts?.keepAliveMs ?? 5_000,
    },
    (req, res) => {
      const started = performance.now();
      const exchange: Exchange = { req, res, path: pathOf(req.url), params: {}, route: undefined, labels: {} };
      const finish = (reply: Reply | void) => {
        if (!reply) return;
        // Nothing is written before this point, so a destroyed response is a client that left first.
        if (res.destroyed) return options.onAbort?.(exchange);
        const extra = options.headers?.(exchange);
        let headers = reply.headers ?? {};
        if (extra && Object.keys(extra).length > 0) headers = { ...extra, ...headers };
        // An unread body must not be left on a keep-alive connection.
        if (!req.complete) headers = { ...headers, connection: 'close' };
        sendJson(res, reply.status, reply.body, headers);
        options.onReply?.(exchange, reply.status, (performance.now() - started) / 1000);
      };
      serve(exchange)
        .then(finish)
        .catch((err: unknown) => {
          if (err instanceof ClientAbortedError) return options.onAbort?.(exchange);
          if (err instanceof RequestError)
            return finish({ status: err.status, body: { error: err.message }, headers: err.headers });
          options.log.error('request failed', {
            path: exchange.path.slice(0, 200),
            err: err instanceof Error ? err.message : String(err),
          });
          finish({
            status: 500,
            body: { error: `internal error: ${err instanceof Error ? err.message : String(err)}` },
          });
        });
    },
  );
  return refuseTunnels(server);
}
