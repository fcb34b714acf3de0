// The gateway under hostile input (issue 11, bugs 2 and 3): it forwards only
// origin-form paths to its configured backends, passes upstream garbage on
// as a 502, validates admin input completely, and keeps serving throughout.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../../shared/log.js';
import { Gateway } from '../../controller/src/local/gateway/server.js';
import { parseRouteTable, weightsOf } from '../../controller/src/local/gateway/routes.js';
import { parseMetricsText, sumOf } from '../../controller/src/local/metrics-text.js';
import { rawRequest, rawSocket } from '../support/raw-http.js';
import { sleep } from '../../shared/wait.js';

const TOKEN = 'hostile-gateway-token-0123456789';
let gateway: Gateway;
let port: number;
let adminPort: number;
/** A server the gateway must never reach: it records whatever arrives, with the Authorization header. */
let secret: http.Server;
const reachedSecret: { url: string | undefined; authorization: string | undefined }[] = [];
/** The backend of v1: answers 200 with the path it saw. */
let backend: http.Server;
/** The backend of v3: answers after 1 s, and notes whether the gateway hung up on it first. */
let slow: http.Server;
const slowSeen = { requests: 0, cancelled: 0 };
/** The backend of v2: a raw socket server answering garbage status lines. */
let garbage: net.Server;
let garbageAnswer = 'HTTP/1.1 099 Weird\r\ncontent-length: 2\r\n\r\nok';

const listen = async (server: http.Server | net.Server) => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return (server.address() as AddressInfo).port;
};
const admin = (target: string, body?: unknown, authorization = `Bearer ${TOKEN}`) =>
  rawRequest(adminPort, {
    method: body === undefined ? 'GET' : 'PUT',
    target,
    headers: { authorization },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
const modelTraffic = async () => sumOf(parseMetricsText((await admin('/metrics')).text), 'istio_requests_total');

beforeAll(async () => {
  secret = http.createServer((req, res) => {
    reachedSecret.push({ url: req.url, authorization: req.headers.authorization });
    res.end('secret');
  });
  backend = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end(JSON.stringify({ path: req.url, version: 'v1' })));
  });
  slow = http.createServer((req, res) => {
    slowSeen.requests++;
    const timer = setTimeout(() => res.end('{"late":true}'), 1000);
    res.on('close', () => {
      if (!res.writableFinished) {
        slowSeen.cancelled++;
        clearTimeout(timer);
      }
    });
  });
  garbage = net.createServer((socket) => {
    socket.once('data', () => socket.end(garbageAnswer));
    socket.on('error', () => undefined);
  });
  const [secretPort, backendPort, garbagePort, slowPort] = [
    await listen(secret),
    await listen(backend),
    await listen(garbage),
    await listen(slow),
  ];
  void secretPort;
  gateway = new Gateway(
    {
      table: parseRouteTable({
        http: [
          {
            name: 'garbage',
            match: [{ headers: { 'x-garbage': { exact: '1' } } }],
            route: [{ destination: { host: 'predictor', subset: 'v2' } }],
          },
          {
            name: 'slow',
            match: [{ headers: { 'x-slow': { exact: '1' } } }],
            route: [{ destination: { host: 'predictor', subset: 'v3' } }],
          },
          {
            name: 'primary',
            route: [
              { destination: { host: 'predictor', subset: 'v1' }, weight: 100 },
              { destination: { host: 'predictor', subset: 'v2' }, weight: 0 },
            ],
          },
        ],
      }),
      backends: {
        v1: [`http://127.0.0.1:${backendPort}`],
        v2: [`http://127.0.0.1:${garbagePort}`],
        v3: [`http://127.0.0.1:${slowPort}`],
      },
      service: 'predictor',
      token: TOKEN,
    },
    createLogger('gateway', 'error'),
  );
  ({ port, adminPort } = await gateway.listen(0, 0));
});
afterAll(async () => {
  await gateway.close();
  for (const s of [secret, backend, garbage, slow]) await new Promise((resolve) => s.close(resolve));
});

describe('gateway data port: only origin-form targets, only configured backends (bug 2)', () => {
  test('absolute-form, //host and /\\host targets are refused with 400, reach nothing, and are not model traffic', async () => {
    const secretPort = (secret.address() as AddressInfo).port;
    const before = await modelTraffic();
    for (const target of [
      `//127.0.0.1:${secretPort}/x`,
      `http://127.0.0.1:${secretPort}/x`,
      `/\\127.0.0.1:${secretPort}/x`,
      `https://127.0.0.1:${secretPort}/x`,
      '*',
      `127.0.0.1:${secretPort}`,
    ]) {
      const reply = await rawRequest(port, {
        method: target.includes(':') && !target.includes('/') ? 'CONNECT' : 'GET',
        target,
        headers: { authorization: 'Bearer client-secret' },
      }).catch((err: Error) => ({ status: 0, json: { error: err.message } }));
      expect([target, reply.status, reply.json]).toEqual([
        target,
        target.includes('/') || target === '*' ? 400 : 405,
        expect.anything(),
      ]);
    }
    expect(reachedSecret).toEqual([]);
    expect(await modelTraffic()).toBe(before);
    // An ordinary path still goes to the backend, with its query.
    const ok = await rawRequest(port, { target: '/v2/models/price-direction/infer?x=1', body: '{}' });
    expect(ok).toMatchObject({ status: 200, json: { path: '/v2/models/price-direction/infer?x=1' } });
    expect(await modelTraffic()).toBe(before + 1);
  });
});

describe('gateway robustness (bug 3)', () => {
  test('an upstream status line of 099, 600 or garbage is a 502; the gateway keeps serving', async () => {
    for (const answer of [
      'HTTP/1.1 099 Weird\r\ncontent-length: 2\r\n\r\nok',
      'HTTP/1.1 600 Nope\r\ncontent-length: 0\r\n\r\n',
      'NOT HTTP AT ALL\r\n\r\n',
      'HTTP/1.1 200 OK\r\nbad header line\r\n\r\n',
    ]) {
      garbageAnswer = answer;
      const reply = await rawRequest(port, { target: '/x', headers: { 'x-garbage': '1' }, body: '{}' });
      expect([answer, reply.status]).toEqual([answer, 502]);
      expect(reply.json.error).toMatch(/upstream v2 sent an invalid answer/);
    }
    expect((await rawRequest(port, { target: '/x', body: '{}' })).status).toBe(200);
  });

  test('admin input is validated completely: prototype keys, unknown destinations, non-integer and out-of-range weights, bad regexes', async () => {
    const cases: [unknown, RegExp][] = [
      [
        { weights: { constructor: 100 } },
        /weights\.constructor: not a destination this gateway knows; known: v1, v2, v3/,
      ],
      [JSON.parse('{"weights": {"__proto__": 100}}'), /weights\.__proto__: not a destination/],
      [{ weights: { toString: 50, v1: 50 } }, /weights\.toString: not a destination/],
      [{ weights: { v1: 150, v2: -50 } }, /weights\.v1: 150 is not a whole percentage from 0 to 100/],
      [{ weights: { v1: 99.5, v2: 0.5 } }, /weights\.v1: 99\.5 is not a whole percentage/],
      [{ weights: { v1: '100' } }, /weights\.v1: "100" is not a whole percentage/],
      [{ weights: { v1: 60, v2: 60 } }, /weights: add up to 120/],
      [{ weights: {} }, /weights: empty/],
      [{ weights: [100] }, /weights: expected an object/],
      [{ weights: { v1: 100 }, mirror: { subset: 'v9', percent: 10 } }, /mirror\.subset: "v9" is not a destination/],
      [{ weights: { v1: 100 }, mirror: { subset: 'v2', percent: 101 } }, /mirror\.percent: 101 is not a percentage/],
      [{ weights: { v1: 100 }, step: { attempt: 'x' } }, /step: not a weir step record/],
      [null, /body: expected/],
      ['{"weights":', /body: not JSON/],
    ];
    for (const [body, error] of cases) {
      const reply = await admin('/routes/primary/weights', body);
      expect([JSON.stringify(body), reply.status, reply.json?.error]).toEqual([
        JSON.stringify(body),
        400,
        expect.stringMatching(error),
      ]);
    }
    expect(weightsOf(gateway.routes, 'primary')).toEqual({ v1: 100, v2: 0 });
    const table = (regex: string) => ({
      http: [
        {
          name: 'primary',
          match: [{ headers: { 'x-cohort': { regex } } }],
          route: [{ destination: { host: 'predictor', subset: 'v1' } }],
        },
        { name: 'rest', route: [{ destination: { host: 'predictor', subset: 'v1' } }] },
      ],
    });
    for (const regex of ['(', '[z-a]', '(?=lookahead)', 'a{2,1}']) {
      const reply = await admin('/routes', table(regex));
      expect([regex, reply.status, reply.json?.error]).toEqual([
        regex,
        400,
        expect.stringContaining('spec.http[0].match[0].headers.x-cohort.regex'),
      ]);
    }
    for (const [target, status] of [
      ['/routes/%E0%A4%A/weights', 400],
      ['/routes/nope/weights', 404],
      ['/routes', 200],
    ] as const)
      expect((await admin(target)).status).toBe(status);
    expect((await admin('/routes', '{not: [yaml')).status).toBe(400);
    // The data port serves on, routing by the unchanged table.
    expect((await rawRequest(port, { target: '/x', body: '{}' })).status).toBe(200);
  });

  test('a regex route matches in linear time: a pathological pattern and a long header do not stall the gateway', async () => {
    const put = await admin('/routes', {
      http: [
        {
          name: 'evil',
          match: [{ headers: { 'x-evil': { regex: '(a+)+$' } } }],
          route: [{ destination: { host: 'predictor', subset: 'v1' } }],
        },
        {
          name: 'primary',
          route: [
            { destination: { host: 'predictor', subset: 'v1' }, weight: 100 },
            { destination: { host: 'predictor', subset: 'v2' }, weight: 0 },
          ],
        },
      ],
    });
    expect(put.status).toBe(200);
    const started = performance.now();
    const reply = await rawRequest(port, { target: '/x', headers: { 'x-evil': `${'a'.repeat(12_000)}!` }, body: '{}' });
    expect(reply.status).toBe(200);
    // A backtracking engine takes longer than the age of the universe here; RE2 takes milliseconds.
    expect(performance.now() - started).toBeLessThan(5000);
  });

  test('the admin token needs the Bearer scheme; a bare token is refused', async () => {
    expect((await admin('/routes', undefined, TOKEN)).status).toBe(401);
    expect((await admin('/routes', undefined, `Basic ${TOKEN}`)).status).toBe(401);
    expect((await admin('/routes', undefined, `bearer ${TOKEN}`)).status).toBe(200);
  });

  test('aborted uploads and bytes that are not HTTP do not disturb it', async () => {
    const before = await modelTraffic();
    for (let i = 0; i < 20; i++)
      await rawSocket(port, 'POST /x HTTP/1.1\r\nhost: a\r\ncontent-length: 1000\r\n\r\n{"partial":', {
        closeAfterWrite: true,
        timeoutMs: 500,
      });
    expect(await rawSocket(port, '\x16\x03\x01garbage\r\n\r\n')).toMatch(/^HTTP\/1\.1 400/);
    await sleep(200);
    const metrics = parseMetricsText((await admin('/metrics')).text);
    expect(sumOf(metrics, 'weir_gateway_client_aborts_total')).toBeGreaterThanOrEqual(20);
    expect(await modelTraffic()).toBe(before);
    expect((await rawRequest(port, { target: '/x', body: '{}' })).status).toBe(200);
  });

  test("a client that hangs up while the upstream works is an abort, not the upstream's status, and the upstream request is cancelled", async () => {
    const before = await modelTraffic();
    const aborts = async () =>
      sumOf(parseMetricsText((await admin('/metrics')).text), 'weir_gateway_client_aborts_total');
    const abortsBefore = await aborts();
    // Earlier tests replaced the table: route to the slow backend again.
    gateway.setRoutes(
      parseRouteTable({
        http: [
          {
            name: 'slow',
            match: [{ headers: { 'x-slow': { exact: '1' } } }],
            route: [{ destination: { host: 'predictor', subset: 'v3' } }],
          },
          { name: 'primary', route: [{ destination: { host: 'predictor', subset: 'v1' } }] },
        ],
      }),
    );
    const body = '{}';
    await rawSocket(port, `POST /x HTTP/1.1\r\nhost: a\r\nx-slow: 1\r\ncontent-length: ${body.length}\r\n\r\n${body}`, {
      timeoutMs: 200,
    });
    await sleep(1500);
    expect(slowSeen).toEqual({ requests: 1, cancelled: 1 });
    expect(await aborts()).toBe(abortsBefore + 1);
    expect(await modelTraffic()).toBe(before);
  });
});
