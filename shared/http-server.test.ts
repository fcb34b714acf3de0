// createServer's request path on a loopback port: what the hot path skips
// (percent-decoding checks on paths without '%', a close listener per request)
// must not change what a client sees or what the hooks report.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from '@jest/globals';
import { createServer, pathOf, type Exchange, type Reply } from './http.js';
import { createLogger } from './log.js';
import { waitFor } from './wait.js';

const servers: http.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

async function serve(
  handler: (x: Exchange) => Promise<Reply> | Reply,
  hooks: { replies: number[]; aborts: number },
): Promise<number> {
  const server = createServer({
    routes: [{ method: ['GET', 'POST'], path: '/m/:model/infer', name: 'infer', handler }],
    log: createLogger('test', 'error'),
    onReply: (_x, status) => hooks.replies.push(status),
    onAbort: () => hooks.aborts++,
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ port, path, host: '127.0.0.1', agent: false }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      })
      .on('error', reject);
  });
}

describe('createServer', () => {
  test('pathOf drops the query', () => {
    expect(pathOf('/a/b?x=1?y')).toBe('/a/b');
    expect(pathOf('/a/b')).toBe('/a/b');
    expect(pathOf(undefined)).toBe('/');
  });

  test('parameters arrive decoded, and a malformed escape anywhere in the path is a 400', async () => {
    const hooks = { replies: [] as number[], aborts: 0 };
    const port = await serve(({ params }) => ({ status: 200, body: params }), hooks);
    expect(await get(port, '/m/price%2Ddirection/infer?x=1')).toEqual({
      status: 200,
      body: JSON.stringify({ model: 'price-direction' }),
    });
    const bad = await get(port, '/m/%E0%A4%A/infer');
    expect(bad.status).toBe(400);
    expect(bad.body).toContain('request path: \\"%E0%A4%A\\" is not valid percent-encoding');
    expect(hooks.replies).toEqual([200, 400]);
  });

  test('a client that leaves while the handler works is an abort, not a reply', async () => {
    const hooks = { replies: [] as number[], aborts: 0 };
    let started!: () => void;
    const working = new Promise<void>((resolve) => (started = resolve));
    const port = await serve(async () => {
      started();
      await new Promise((resolve) => setTimeout(resolve, 300));
      return { status: 200, body: { late: true } };
    }, hooks);
    const req = http.request({ port, host: '127.0.0.1', path: '/m/x/infer', method: 'POST', agent: false });
    req.on('error', () => undefined);
    req.end('{}');
    await working;
    req.destroy();
    await waitFor(() => hooks.aborts === 1, 5000, 'the abort hook');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(hooks).toEqual({ replies: [], aborts: 1 });
  });

  test("a reply's own headers object is never changed by the server", async () => {
    const hooks = { replies: [] as number[], aborts: 0 };
    const shared = Object.freeze({ 'retry-after': '1' });
    // The body is never read, so the server adds connection: close, on a copy.
    const port = await serve(() => ({ status: 503, body: { error: 'busy' }, headers: shared }), hooks);
    const answer = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request({ port, host: '127.0.0.1', path: '/m/x/infer', method: 'POST', agent: false }, resolve);
      req.on('error', reject);
      req.write('{"partial":');
    });
    answer.resume();
    expect(answer.statusCode).toBe(503);
    expect(answer.headers['retry-after']).toBe('1');
    expect(answer.headers.connection).toBe('close');
    expect(shared).toEqual({ 'retry-after': '1' });
  });
});
