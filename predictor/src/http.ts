// The small HTTP toolkit every weir server shares (predictor, gateway,
// controller): request bodies read within a limit, client aborts told apart
// from errors, bearer tokens checked the one way RFC 6750 allows, and path
// segments decoded without throwing on malformed escapes.
import { timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { RequestError } from './errors.js';

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

/**
 * Whether an Authorization header carries `token` with the Bearer scheme
 * (RFC 6750 §2.1: the scheme is case-insensitive, the token is not). A bare
 * token without the scheme does not count. Compared in constant time.
 */
export function bearerMatches(header: string | string[] | undefined, token: string): boolean {
  if (typeof header !== 'string') return false;
  const match = /^Bearer +(\S+) *$/i.exec(header);
  if (!match) return false;
  const given = Buffer.from(match[1]!);
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
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
    target.startsWith('/') &&
    !target.startsWith('//') &&
    !target.startsWith('/\\') &&
    !/[\s\\]/.test(target.split('?')[0]!)
  );
}

/** Answers with a JSON body (nothing, when the answer already started or the client is gone). */
export function sendJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
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

/** The path of a request target, without its query. */
export function pathOf(target: string | undefined): string {
  return (target ?? '/').split('?')[0]!;
}
