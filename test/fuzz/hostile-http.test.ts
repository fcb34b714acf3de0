// A seeded fuzz of every weir HTTP surface (issue 11): thousands of generated
// hostile requests against a real predictor process, a real gateway (data and
// admin ports) in front of it, and a real controller's webhook and metrics
// endpoints. Methods, request targets, headers and bodies are mutated from
// valid requests; some bodies are cut short or are not HTTP at all. No answer
// may be a 5xx (every request here is a client's mistake or a valid request),
// no process may die, and afterwards a normal request gets the same answer as
// before. WEIR_FUZZ_SEED picks another seed; a failure prints the request.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import http from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { createLogger } from '../../shared/log.js';
import { ControllerLoop } from '../../controller/src/controller/loop.js';
import { Gateway } from '../../controller/src/local/gateway/server.js';
import { parseRouteTable } from '../../controller/src/local/gateway/routes.js';
import type { PredictorProcess } from '../../controller/src/local/predictor-process.js';
import { FileRolloutStore } from '../../controller/src/providers/file/store.js';
import { GatewayRouter } from '../../controller/src/providers/gateway/router.js';
import { PrometheusMetrics } from '../../controller/src/providers/prometheus/provider.js';
import { MODEL, inferBody, marketRows, metric, predictor } from '../support/predictor.js';
import { rawSocket } from '../support/raw-http.js';
import { aSpecInput } from '../support/fixtures.js';

const SEED = Number(process.env.WEIR_FUZZ_SEED ?? 20261123);
const ADMIN_TOKEN = 'fuzz-predictor-admin-token-0123';
const GATEWAY_TOKEN = 'fuzz-gateway-admin-token-012345';
const WEBHOOK_TOKEN = 'fuzz-webhook-token-0123456789ab';

/** mulberry32: a small seeded generator, so every run with one seed sends the same requests. */
function generator(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const chance = (p: number) => next() < p;
  return { next, int, pick, chance };
}
type Random = ReturnType<typeof generator>;

const NASTY_STRINGS = [
  '',
  ' ',
  '\u0000',
  '%',
  '%E0%A4%A',
  '%ZZ',
  '..',
  '../../etc/passwd',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  '\uD800',
  '𝕨𝕖𝕚𝕣',
  '"',
  "'",
  '<script>',
  'a'.repeat(5000),
  '${x}',
  '{{version}}',
  'null',
  'NaN',
  '-0',
  '1e999',
];
const NASTY_NUMBERS = [
  0,
  -0,
  1,
  -1,
  0.5,
  1e39,
  -1e39,
  3.5e38,
  1e308,
  -1e308,
  1e200,
  5e-324,
  2 ** 31,
  2 ** 53,
  2 ** 63,
  1e20,
  -1e20,
  1e9,
  123456789.123,
  99.5,
  150,
  -50,
];

/** Any JSON value, `depth` levels deep at most. */
function jsonValue(r: Random, depth = 3): unknown {
  const roll = r.int(depth > 0 ? 8 : 5);
  if (roll === 0) return null;
  if (roll === 1) return r.chance(0.5);
  if (roll === 2) return r.chance(0.5) ? r.pick(NASTY_NUMBERS) : (r.next() - 0.5) * 10 ** r.int(12);
  if (roll === 3 || roll === 4) return r.chance(0.6) ? r.pick(NASTY_STRINGS) : `s${r.int(1000)}`;
  if (roll === 5 || roll === 6) return Array.from({ length: r.int(5) }, () => jsonValue(r, depth - 1));
  const object: Record<string, unknown> = {};
  for (let i = r.int(5); i > 0; i--)
    object[
      r.pick([
        ...NASTY_STRINGS.slice(0, 14),
        'inputs',
        'shape',
        'data',
        'datatype',
        'name',
        'id',
        'label',
        'value',
        'weights',
        'alerts',
        'labels',
        'status',
      ])
    ] = jsonValue(r, depth - 1);
  return object;
}

/** A copy of `value` with one randomly chosen part replaced, removed, or made pathological. */
function mutate(r: Random, value: unknown): unknown {
  const copy = structuredClone(value) as unknown;
  const holders: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) {
      v.forEach((item, i) => {
        holders.push({ parent: v, key: i });
        walk(item);
      });
    } else if (v && typeof v === 'object') {
      for (const [k, item] of Object.entries(v)) {
        holders.push({ parent: v as Record<string, unknown>, key: k });
        walk(item);
      }
    }
  };
  walk(copy);
  const times = 1 + r.int(3);
  for (let t = 0; t < times && holders.length > 0; t++) {
    const { parent, key } = r.pick(holders);
    const what = r.int(5);
    if (what === 0) (parent as Record<string | number, unknown>)[key] = jsonValue(r);
    else if (what === 1 && !Array.isArray(parent)) delete (parent as Record<string, unknown>)[key as string];
    else if (what === 2) (parent as Record<string | number, unknown>)[key] = r.pick(NASTY_NUMBERS);
    else if (what === 3) (parent as Record<string | number, unknown>)[key] = r.pick(NASTY_STRINGS);
    else (parent as Record<string | number, unknown>)[key] = [jsonValue(r, 1), jsonValue(r, 1)];
  }
  return copy;
}

/** A request body: a mutated valid body, a pathological text, or bytes that are not JSON. */
function body(r: Random, valid: unknown): string | Buffer {
  const roll = r.int(10);
  if (roll <= 5) return JSON.stringify(mutate(r, valid));
  if (roll === 6) return `${'['.repeat(20_000 + r.int(80_000))}${r.chance(0.5) ? ']'.repeat(1000) : ''}`;
  if (roll === 7) return JSON.stringify(valid).slice(0, r.int(JSON.stringify(valid).length));
  if (roll === 8) return Buffer.from(Array.from({ length: r.int(300) }, () => r.int(256)));
  return JSON.stringify(jsonValue(r, 4));
}

/** A request target: a known path, mutated into something hostile now and then. */
function target(r: Random, paths: readonly string[]): string {
  let t = r.pick(paths);
  const roll = r.int(12);
  if (roll === 0) t = `http://127.0.0.1:${r.int(65536)}${t}`;
  else if (roll === 1) t = `//127.0.0.1:${r.int(65536)}${t}`;
  else if (roll === 2) t = t.replace(/[^/]+$/, r.pick(['%E0%A4%A', '%', '%00', '..%2F..', '%2e%2e']));
  else if (roll === 3) t = `${t}?${'x=1&'.repeat(r.int(200))}`;
  else if (roll === 4) t = `/${'a/'.repeat(r.int(400))}`;
  else if (roll === 5)
    t = t.replace('price-direction', r.pick(['constructor', '__proto__', 'PRICE-DIRECTION', '', '%70rice-direction']));
  else if (roll === 6) t = '*';
  return t;
}

interface Sent {
  surface: string;
  method: string;
  target: string;
  status: number;
  body: string;
}

/** Sends one request exactly as given; resolves with its status, or 0 when the server closed without an answer. */
function send(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  payload: string | Buffer | undefined,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve) => {
    const data = payload === undefined ? undefined : Buffer.from(payload);
    let req: http.ClientRequest;
    try {
      req = http.request(
        {
          host: '127.0.0.1',
          port,
          method,
          path,
          headers: { ...headers, ...(data ? { 'content-length': String(data.length) } : {}) },
          agent: false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8').slice(0, 300) }),
          );
          res.on('error', () => resolve({ status: 0, text: 'response error' }));
        },
      );
    } catch (err) {
      // Node's client refuses to send it (an invalid character in the target or a header): nothing was sent.
      resolve({ status: -1, text: (err as Error).message });
      return;
    }
    req.on('connect', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, text: '' });
    });
    req.setTimeout(15_000, () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ status: 0, text: err.message }));
    req.end(data);
  });
}

async function fuzz(
  surface: string,
  port: number,
  count: number,
  make: (
    r: Random,
    i: number,
  ) => { method: string; target: string; headers: Record<string, string>; body?: string | Buffer },
  r: Random,
  sent: Sent[],
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < count) {
        const i = next++;
        const request = make(r, i);
        // Now and then, the same request cut off mid-body, or bytes that are not HTTP.
        if (i % 97 === 0) {
          await rawSocket(port, `${request.method} /x HTTP/1.1\r\nhost: a\r\ncontent-length: 5000\r\n\r\n{"partial":`, {
            closeAfterWrite: true,
            timeoutMs: 200,
          });
          sent.push({ surface, method: 'ABORTED', target: '/x', status: 0, body: '' });
          continue;
        }
        if (i % 101 === 0) {
          const reply = await rawSocket(port, Buffer.from(Array.from({ length: 64 }, (_, k) => (k * 37 + i) % 256)), {
            timeoutMs: 500,
          });
          sent.push({
            surface,
            method: 'GARBAGE',
            target: '-',
            status: Number(/^HTTP\/1\.1 (\d{3})/.exec(reply)?.[1] ?? 0),
            body: '',
          });
          continue;
        }
        const reply = await send(port, request.method, request.target, request.headers, request.body);
        sent.push({ surface, method: request.method, target: request.target, status: reply.status, body: reply.text });
      }
    }),
  );
}

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'CONNECT', 'TRACE', 'PROPFIND'];
const authorizations = (token: string) => [
  '',
  token,
  `Bearer ${token}`,
  `bearer ${token}`,
  `Bearer ${token}x`,
  'Bearer ',
  `Basic ${Buffer.from(`a:${token}`).toString('base64')}`,
  `Bearer ${'x'.repeat(4000)}`,
];

let server: PredictorProcess;
let gateway: Gateway;
let ports: { port: number; adminPort: number };
let loop: ControllerLoop;
let controllerPort: number;
let dir: string;
const rows = marketRows(4).map((r) => r.features);
let before: unknown;

/** A normal prediction through the gateway. */
const normal = async (port: number) => {
  const response = await fetch(`http://127.0.0.1:${port}/v2/models/${MODEL}/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'cache-control': 'no-cache' },
    body: JSON.stringify(inferBody(rows)),
  });
  return { status: response.status, outputs: ((await response.json()) as { outputs: unknown }).outputs };
};

beforeAll(async () => {
  server = await predictor({
    version: 'v2',
    env: { WEIR_PREDICTOR_ADMIN_TOKEN: ADMIN_TOKEN },
    args: ['--max-body-bytes', String(256 * 1024), '--log-level', 'warn'],
  });
  gateway = new Gateway(
    {
      table: parseRouteTable({
        http: [{ name: 'primary', route: [{ destination: { host: 'predictor', subset: 'v2' }, weight: 100 }] }],
      }),
      backends: { v2: [server.url] },
      service: 'predictor',
      token: GATEWAY_TOKEN,
      maxBodyBytes: 256 * 1024,
    },
    createLogger('gateway', 'error'),
  );
  ports = await gateway.listen(0, 0);
  dir = await mkdtemp(path.join(os.tmpdir(), 'weir-fuzz-'));
  const spec = {
    ...aSpecInput({ model: MODEL }),
    notifications: { abortOnAlert: ['ModelAccuracyDegraded'] },
  };
  await writeFile(
    path.join(dir, 'price-direction.yaml'),
    stringify({ apiVersion: 'weir.dev/v1alpha1', kind: 'ModelRollout', metadata: { name: 'price-direction' }, spec }),
  );
  await writeFile(path.join(dir, 'corrupt.yaml'), 'spec: [unclosed\n');
  loop = new ControllerLoop(
    {
      store: new FileRolloutStore(dir),
      router: new GatewayRouter(`http://127.0.0.1:${ports.adminPort}`, GATEWAY_TOKEN),
      metrics: new PrometheusMetrics({ url: 'http://127.0.0.1:9' }),
      log: createLogger('controller', 'error'),
      namespace: 'local',
    },
    { webhookToken: WEBHOOK_TOKEN },
  );
  controllerPort = await loop.listen(0);
  before = (await normal(ports.port)).outputs;
}, 60_000);
afterAll(async () => {
  await loop?.stop();
  await gateway?.close();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe(`seeded fuzz of every HTTP surface (seed ${SEED})`, () => {
  test('thousands of hostile requests: no 5xx, no crash, and the same answer afterwards', async () => {
    const r = generator(SEED);
    const sent: Sent[] = [];
    const validInfer = {
      id: 'fuzz',
      inputs: [{ name: 'features', shape: [2, 9], datatype: 'FP32', data: rows.slice(0, 2).flat() }],
      outputs: [{ name: 'label' }],
    };
    const validFeedback = [
      { id: 'fuzz', label: 1, value: 0.5 },
      { id: 'other', label: [1], return: [0.01] },
    ];
    const predictorPaths = [
      `/v2/models/${MODEL}/infer`,
      `/v2/models/${MODEL}/versions/v2/infer`,
      `/v2/models/${MODEL}/feedback`,
      `/v2/models/${MODEL}`,
      `/v2/models/${MODEL}/ready`,
      '/v2/health/ready',
      '/v2/health/live',
      '/v2',
      '/metrics',
      `/v2/repository/models/${MODEL}/load`,
      `/v2/repository/models/${MODEL}/unload`,
      '/v2/repository/index',
      '/nope',
    ];
    const started = performance.now();

    // 1. The predictor: 5,000 requests (no valid admin token, so nothing can unload the model).
    await fuzz(
      'predictor',
      server.port,
      5000,
      (rr, i) => {
        const t = target(rr, predictorPaths);
        const valid = t.includes('feedback') ? validFeedback : validInfer;
        const headers: Record<string, string> = {
          'content-type': rr.pick(['application/json', 'text/plain', '', 'application/json; charset=latin1']),
        };
        if (rr.chance(0.3)) headers.authorization = rr.pick(authorizations('wrong-token-of-the-same-length!!'));
        if (rr.chance(0.1)) headers['cache-control'] = rr.pick(['no-cache', 'max-age=0', 'garbage']);
        const method =
          i % 5 === 0
            ? rr.pick(METHODS)
            : t.includes('infer') || t.includes('feedback') || t.includes('repository')
              ? 'POST'
              : 'GET';
        return {
          method,
          target: t,
          headers,
          ...(method === 'GET' || method === 'HEAD' ? {} : { body: body(rr, valid) }),
        };
      },
      r,
      sent,
    );

    // 2. The gateway's data port, in front of that predictor: 1,500 requests.
    await fuzz(
      'gateway',
      ports.port,
      1500,
      (rr) => {
        const t = target(
          rr,
          predictorPaths.filter((p) => !p.includes('repository')),
        );
        const headers: Record<string, string> = {
          'content-type': 'application/json',
          ...(rr.chance(0.2)
            ? {
                [rr.pick(['x-cohort', 'cookie', 'x-weir-mirrored', 'te', 'upgrade'])]: rr.pick(
                  // Only strings a header may carry: no control or non-ASCII characters.
                  // eslint-disable-next-line no-control-regex
                  NASTY_STRINGS.filter((s) => !/[\u0000-\u001f\u007f-\uffff]/.test(s)).slice(0, 12),
                ),
              }
            : {}),
        };
        const method = rr.chance(0.8) ? 'POST' : rr.pick(METHODS);
        return {
          method,
          target: t,
          headers,
          ...(method === 'GET' || method === 'HEAD' ? {} : { body: body(rr, validInfer) }),
        };
      },
      r,
      sent,
    );

    // 3. The gateway's admin port, with the real token half the time: 800 requests. Only its routes change.
    const validWeights = { weights: { v2: 100 }, mirror: { subset: 'v2', percent: 0 } };
    const validTable = {
      http: [
        {
          name: 'primary',
          match: [{ headers: { 'x-cohort': { regex: 'b.*' } } }],
          route: [{ destination: { host: 'predictor', subset: 'v2' }, weight: 100 }],
        },
      ],
    };
    await fuzz(
      'gateway-admin',
      ports.adminPort,
      800,
      (rr) => {
        const t = target(rr, ['/routes', '/routes/primary/weights', '/routes/nope/weights', '/metrics', '/healthz']);
        const method = rr.pick(['GET', 'PUT', 'PUT', 'PUT', 'POST', 'DELETE']);
        const headers = {
          authorization: rr.chance(0.5) ? `Bearer ${GATEWAY_TOKEN}` : rr.pick(authorizations(GATEWAY_TOKEN)),
        };
        return {
          method,
          target: t,
          headers,
          ...(method === 'GET'
            ? {}
            : {
                body: rr.chance(0.2)
                  ? stringify(mutate(rr, validTable))
                  : body(rr, t.includes('weights') ? validWeights : validTable),
              }),
        };
      },
      r,
      sent,
    );
    // The admin fuzz may have left valid but different routes: put the table back.
    gateway.setRoutes(
      parseRouteTable({
        http: [{ name: 'primary', route: [{ destination: { host: 'predictor', subset: 'v2' }, weight: 100 }] }],
      }),
    );

    // 4. The controller: webhook (real token most of the time) and its other endpoints: 1,200 requests.
    const validWebhook = {
      version: '4',
      status: 'firing',
      alerts: [
        {
          status: 'firing',
          labels: { alertname: 'ModelAccuracyDegraded', version: 'v3', model: MODEL },
          annotations: { summary: 's' },
        },
      ],
    };
    await fuzz(
      'controller',
      controllerPort,
      1200,
      (rr) => {
        const t = rr.chance(0.8)
          ? target(rr, ['/alertmanager/webhook'])
          : target(rr, ['/metrics', '/healthz', '/readyz', '/']);
        const method = rr.chance(0.85) ? 'POST' : rr.pick(METHODS);
        const headers = {
          authorization: rr.chance(0.8) ? `Bearer ${WEBHOOK_TOKEN}` : rr.pick(authorizations(WEBHOOK_TOKEN)),
          'content-type': 'application/json',
        };
        return {
          method,
          target: t,
          headers,
          ...(method === 'GET' || method === 'HEAD' ? {} : { body: body(rr, validWebhook) }),
        };
      },
      r,
      sent,
    );
    const seconds = (performance.now() - started) / 1000;

    const by = (surface: string) => sent.filter((s) => s.surface === surface);
    // /readyz answers 503 by design here: this controller's loop is not started, so it has not listed rollouts yet.
    const failures = sent.filter(
      (s) => s.status >= 500 && !(s.surface === 'controller' && s.status === 503 && s.target.startsWith('/readyz')),
    );
    const counts = Object.fromEntries(
      ['predictor', 'gateway', 'gateway-admin', 'controller'].map((s) => [s, by(s).length]),
    );
    const statuses = Object.fromEntries(
      ['predictor', 'gateway', 'gateway-admin', 'controller'].map((s) => [
        s,
        by(s).reduce<Record<string, number>>((acc, x) => ({ ...acc, [x.status]: (acc[x.status] ?? 0) + 1 }), {}),
      ]),
    );
    process.stdout.write(
      `fuzz seed ${SEED}: ${sent.length} requests in ${seconds.toFixed(1)} s; ${JSON.stringify(counts)}; statuses ${JSON.stringify(statuses)}\n`,
    );
    expect(failures.slice(0, 5)).toEqual([]);
    expect(by('predictor').length).toBeGreaterThanOrEqual(3000);
    expect(by('gateway').length + by('gateway-admin').length + by('controller').length).toBeGreaterThanOrEqual(1000);
    // Nearly every request got an answer (0: the server closed on bytes that were not HTTP, or an abort; -1: Node would not send it).
    expect(sent.filter((s) => s.status > 0).length).toBeGreaterThan(sent.length * 0.8);

    // Nobody died, nothing answers 5xx afterwards, and a normal request gives the answer it gave before.
    expect(server.child.exitCode).toBeNull();
    expect(await metric(server, 'weir_predictor_requests_total', { code: '500' })).toBe(0);
    expect((await fetch(`${server.url}/v2/health/ready`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${controllerPort}/healthz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${ports.adminPort}/healthz`)).status).toBe(200);
    const after = await normal(ports.port);
    expect(after.status).toBe(200);
    expect(after.outputs).toEqual(before);
  }, 120_000);
});
