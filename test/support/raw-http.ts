// HTTP as a hostile client sends it: any request target (absolute form, //host,
// malformed escapes), any method and headers, bodies cut short, and bytes on a
// bare socket. fetch() normalizes all of these away, so tests that need them
// use this.
import http from 'node:http';
import net from 'node:net';

export interface RawReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: any;
}

export interface RawRequest {
  method?: string;
  /** The request target exactly as sent, e.g. "http://127.0.0.1:9/x" or "//host/x". */
  target: string;
  headers?: Record<string, string | number>;
  body?: string | Buffer;
  timeoutMs?: number;
}

export function rawRequest(port: number, request: RawRequest): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const body = request.body === undefined ? undefined : Buffer.from(request.body);
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: request.method ?? (body ? 'POST' : 'GET'),
        path: request.target,
        headers: { ...(body ? { 'content-length': body.length } : {}), ...request.headers },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
        res.on('error', reject);
      },
    );
    // A CONNECT answer arrives as 'connect', not as a response.
    req.on('connect', (res: http.IncomingMessage, socket: net.Socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, headers: res.headers, text: '', json: {} });
    });
    req.setTimeout(request.timeoutMs ?? 10_000, () =>
      req.destroy(new Error(`no answer within ${request.timeoutMs ?? 10_000} ms`)),
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Sends bytes on a fresh socket and resolves with whatever comes back before the server closes it (or the timeout). */
export function rawSocket(
  port: number,
  bytes: string | Buffer,
  { timeoutMs = 3000, closeAfterWrite = false }: { timeoutMs?: number; closeAfterWrite?: boolean } = {},
): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    const timer = setTimeout(done, timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', done);
    socket.on('error', done);
    socket.write(bytes, () => {
      if (closeAfterWrite) socket.destroy();
    });
  });
}
