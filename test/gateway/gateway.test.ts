// The local gateway in front of real predictor processes: the observed split
// matches the weights (chi-squared), header and cookie routes, mirroring,
// retries, no dropped requests across weight changes, and the admin token.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { PredictorProcess } from '../../controller/src/local/predictor-process.js';
import { parseMetricsText, sumOf } from '../../controller/src/local/metrics-text.js';
import { createLogger } from '../../shared/log.js';
import { Gateway } from '../../controller/src/local/gateway/server.js';
import { parseRouteTable } from '../../controller/src/local/gateway/routes.js';
import { chiSquareSf } from '../../controller/src/stats/distributions.js';
import { MODEL, inferBody, marketRows, predictor, request, waitFor } from '../support/predictor.js';
import { sleep } from '../../shared/wait.js';
import { GatewayRouter } from '../../controller/src/providers/gateway/router.js';
import { routeTarget } from '../../controller/src/engine/route.js';
import { anAppliedStep, aRollout } from '../support/fixtures.js';

const TOKEN = 'gateway-test-token-0123456789';
let v1: PredictorProcess;
let v2: PredictorProcess;
let gateway: Gateway;
let url: string;
let admin: string;
const row = marketRows(1)[0]!.features;
const body = inferBody([row]);
const quiet = createLogger('gateway', 'error');

const table = (w1: number, w2: number, extra: object[] = []) =>
  parseRouteTable({
    hosts: ['predictor'],
    http: [
      ...extra,
      {
        name: 'primary',
        route: [
          { destination: { host: 'predictor', subset: 'v1' }, weight: w1 },
          { destination: { host: 'predictor', subset: 'v2' }, weight: w2 },
        ],
        retries: { attempts: 2, retryOn: 'connect-failure,5xx' },
      },
    ],
  });

async function metrics(): Promise<ReturnType<typeof parseMetricsText>> {
  return parseMetricsText(await (await fetch(`${admin}/metrics`)).text());
}

/** Sends n requests, `concurrency` at a time; returns the served versions and statuses. */
async function burst(
  n: number,
  headers: Record<string, string> = {},
  concurrency = 16,
): Promise<{ versions: string[]; statuses: number[] }> {
  const versions: string[] = [];
  const statuses: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < n) {
        const reply = await request(`${url}/v2/models/${MODEL}/infer`, {
          body,
          headers: { 'cache-control': 'no-cache', ...headers },
        });
        statuses.push(reply.status);
        versions.push(reply.body.model_version);
      }
    }),
  );
  return { versions, statuses };
}

beforeAll(async () => {
  [v1, v2] = await Promise.all([predictor({ version: 'v1' }), predictor({ version: 'v2' })]);
  gateway = new Gateway(
    {
      table: table(100, 0),
      // A baseline of v1 (issue 14): the same model behind its own destination name.
      backends: { v1: [v1.url], v2: [v2.url], 'v1-baseline': [v1.url] },
      service: 'predictor',
      token: TOKEN,
    },
    quiet,
  );
  const ports = await gateway.listen(0, 0);
  url = `http://127.0.0.1:${ports.port}`;
  admin = `http://127.0.0.1:${ports.adminPort}`;
});
afterAll(async () => {
  await gateway.close();
  await Promise.all([v1.stop(), v2.stop()]);
});

describe('gateway', () => {
  test('the observed split matches the weights (chi-squared goodness of fit, 2000 requests at 70/30)', async () => {
    gateway.setRoutes(table(70, 30));
    const { versions, statuses } = await burst(2000);
    expect(statuses.every((s) => s === 200)).toBe(true);
    const n1 = versions.filter((v) => v === 'v1').length;
    const n2 = versions.filter((v) => v === 'v2').length;
    const chi = (p1: number) => (n1 - 2000 * p1) ** 2 / (2000 * p1) + (n2 - 2000 * (1 - p1)) ** 2 / (2000 * (1 - p1));
    // Fails 0.1% of the time by chance if the split is right; a 50/50 split would be rejected outright.
    expect(chiSquareSf(chi(0.7), 1)).toBeGreaterThan(0.001);
    expect(chiSquareSf(chi(0.5), 1)).toBeLessThan(1e-6);
    // Istio-standard telemetry agrees with what the clients saw.
    const m = await metrics();
    expect(
      sumOf(m, 'istio_requests_total', { destination_version: 'v2', response_code: '200', request_mirrored: 'false' }),
    ).toBeGreaterThanOrEqual(n2);
    expect(sumOf(m, 'weir_gateway_route_weight', { route: 'primary', destination_version: 'v2' })).toBe(30);
  });

  test('header and cookie match routes send a cohort to one version', async () => {
    gateway.setRoutes(
      table(100, 0, [
        {
          name: 'beta-header',
          match: [{ headers: { 'x-cohort': { exact: 'beta' } } }],
          route: [{ destination: { host: 'predictor', subset: 'v2' } }],
        },
        {
          name: 'beta-cookie',
          match: [{ headers: { cookie: { regex: '(.*; )?cohort=beta(;.*)?' } } }],
          route: [{ destination: { host: 'predictor', subset: 'v2' } }],
        },
      ]),
    );
    expect(new Set((await burst(40, { 'x-cohort': 'beta' })).versions)).toEqual(new Set(['v2']));
    expect(new Set((await burst(40, { cookie: 'theme=dark; cohort=beta' })).versions)).toEqual(new Set(['v2']));
    expect(new Set((await burst(40, { cookie: 'cohort=alpha' })).versions)).toEqual(new Set(['v1']));
    expect(new Set((await burst(40)).versions)).toEqual(new Set(['v1']));
  });

  test('mirroring copies traffic to the shadow version, discards its answers, and labels it mirrored', async () => {
    const before = sumOf(await metrics(), 'istio_requests_total', {
      destination_version: 'v2',
      request_mirrored: 'true',
    });
    gateway.setRoutes(
      parseRouteTable({
        http: [
          {
            name: 'primary',
            route: [{ destination: { host: 'predictor', subset: 'v1' } }],
            mirror: { host: 'predictor', subset: 'v2' },
            mirrorPercentage: { value: 100 },
          },
        ],
      }),
    );
    const { versions } = await burst(100);
    expect(new Set(versions)).toEqual(new Set(['v1']));
    await waitFor(
      async () =>
        sumOf(await metrics(), 'istio_requests_total', { destination_version: 'v2', request_mirrored: 'true' }) -
          before ===
        100,
      10_000,
      '100 mirrored requests',
    );
  });

  test('weight changes under constant load drop no request', async () => {
    gateway.setRoutes(table(100, 0));
    const statuses: number[] = [];
    let running = true;
    const workers = Array.from({ length: 8 }, async () => {
      while (running) {
        const reply = await request(`${url}/v2/models/${MODEL}/infer`, {
          body,
          headers: { 'cache-control': 'no-cache' },
        });
        statuses.push(reply.status);
      }
    });
    for (let i = 0; i < 40; i++) {
      const w = [0, 10, 25, 50, 100][i % 5]!;
      const reply = await request(`${admin}/routes/primary/weights`, {
        method: 'PUT',
        body: { weights: { v1: 100 - w, v2: w } },
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(reply.status).toBe(200);
      await sleep(25);
    }
    running = false;
    await Promise.all(workers);
    expect(statuses.length).toBeGreaterThan(200);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
  });

  test('the admin API refuses requests without the right token, and bad weights name the problem', async () => {
    const weights = `${admin}/routes/primary/weights`;
    expect((await request(weights, { method: 'PUT', body: { weights: { v1: 0, v2: 100 } } })).status).toBe(401);
    expect(
      (
        await request(weights, {
          method: 'PUT',
          body: { weights: { v1: 0, v2: 100 } },
          headers: { authorization: 'Bearer not-the-token-at-all!!' },
        })
      ).status,
    ).toBe(401);
    expect((await request(`${admin}/routes`)).status).toBe(401);
    const bad = await request(weights, {
      method: 'PUT',
      body: { weights: { v1: 50, v2: 60 } },
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(bad).toMatchObject({ status: 400, body: { error: 'weights: add up to 110; they must add up to 100' } });
    const table = await request(`${admin}/routes`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(table.status).toBe(200);
    expect(table.body.http.at(-1).name).toBe('primary');
    // /metrics and /healthz stay open for Prometheus and probes.
    expect((await fetch(`${admin}/healthz`)).status).toBe(200);
  });

  test('a dead backend of a version is retried on the live one', async () => {
    const retrying = new Gateway(
      {
        table: table(100, 0),
        backends: { v1: ['http://127.0.0.1:9', v1.url], v2: [v2.url] },
        service: 'predictor',
        token: TOKEN,
      },
      quiet,
    );
    const ports = await retrying.listen(0, 0);
    try {
      const replies = await Promise.all(
        Array.from({ length: 30 }, () => request(`http://127.0.0.1:${ports.port}/v2/models/${MODEL}/infer`, { body })),
      );
      expect(replies.map((r) => r.status)).toEqual(replies.map(() => 200));
    } finally {
      await retrying.close();
    }
  });

  test("the gateway router writes three destinations (stable, baseline, canary), keeps the route's other fields, and sets a destination it no longer names to 0", async () => {
    gateway.setRoutes(table(100, 0));
    const router = new GatewayRouter(admin, TOKEN);
    const withBaseline = aRollout('r', { baseline: { version: 'v1-baseline' } }, 'local');
    const step = anAppliedStep('a1-s1-progressing', 'advance');
    await router.setRoutes(
      withBaseline,
      routeTarget(withBaseline.spec, { canaryWeight: 25, mirrorPercent: 0, baselineWeight: 25 }),
      step,
    );
    expect(await router.getRoutes(withBaseline)).toMatchObject({ weights: [50, 25, 25], mirrorPercent: 0 });
    const { versions, statuses } = await burst(400);
    expect(statuses.every((st) => st === 200)).toBe(true);
    // The baseline answers as v1 (it is v1's model); the gateway counts it under its own destination.
    expect(new Set(versions)).toEqual(new Set(['v1', 'v2']));
    const m = await metrics();
    expect(sumOf(m, 'istio_requests_total', { destination_version: 'v1-baseline' })).toBeGreaterThan(50);
    expect(sumOf(m, 'weir_gateway_route_weight', { route: 'primary', destination_version: 'v1-baseline' })).toBe(25);
    const routeTable = await request(`${admin}/routes`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(routeTable.body.http.at(-1).retries).toEqual({ attempts: 2, retryOn: 'connect-failure,5xx' });
    // A rollout without the baseline now owns the route: the baseline stays listed, at 0.
    const plain = aRollout('r', {}, 'local');
    await router.setRoutes(plain, routeTarget(plain.spec, { canaryWeight: 0, mirrorPercent: 0 }), step);
    const after = await request(`${admin}/routes/primary/weights`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(after.body.weights).toEqual({ v1: 100, v2: 0, 'v1-baseline': 0 });
  });

  test('strategy.headerRoute works in local mode: while traffic is split the cohort (a header, or a cookie by regex) goes to the canary, and the route goes at 100% and at a rollback', async () => {
    gateway.setRoutes(table(100, 0));
    const router = new GatewayRouter(admin, TOKEN);
    const cohort = aRollout(
      'r',
      {
        strategy: {
          headerRoute: { headers: { 'x-cohort': { exact: 'beta' } } },
        },
      },
      'local',
    );
    const step = anAppliedStep('a1-s0-progressing', 'advance');
    await router.setRoutes(cohort, routeTarget(cohort.spec, { canaryWeight: 10, mirrorPercent: 0 }), step);
    const names = async () =>
      (await request(`${admin}/routes`, { headers: { authorization: `Bearer ${TOKEN}` } })).body.http.map(
        (r: { name?: string }) => r.name,
      );
    expect(await names()).toEqual(['primary-weir-canary', 'primary']);
    const beta = await burst(60, { 'x-cohort': 'beta' });
    expect(new Set(beta.versions)).toEqual(new Set(['v2']));
    // Everyone else follows the weights (10%): most reach v1.
    const rest = await burst(200, { 'x-cohort': 'gamma' });
    expect(rest.versions.filter((v) => v === 'v1').length).toBeGreaterThan(150);
    // A cookie cohort is a header match on `cookie` with an RE2 regex, as in Istio.
    const cookie = aRollout(
      'r',
      { strategy: { headerRoute: { headers: { cookie: { regex: '^(.*;\\s*)?cohort=beta(;.*)?$' } } } } },
      'local',
    );
    await router.setRoutes(cookie, routeTarget(cookie.spec, { canaryWeight: 25, mirrorPercent: 0 }), step);
    const fromCookie = await burst(40, { cookie: 'session=abc; cohort=beta' });
    expect(new Set(fromCookie.versions)).toEqual(new Set(['v2']));
    // Promoted (100%) or rolled back (0%): the cohort route is gone; only the owned route carries traffic.
    await router.setRoutes(cookie, routeTarget(cookie.spec, { canaryWeight: 0, mirrorPercent: 0 }), step);
    expect(await names()).toEqual(['primary']);
    const back = await burst(40, { cookie: 'session=abc; cohort=beta' });
    expect(new Set(back.versions)).toEqual(new Set(['v1']));
    // A bad pattern is refused whole, naming the field; nothing changes.
    const refused = await request(`${admin}/routes/primary/weights`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      raw: JSON.stringify({
        weights: { v1: 90, v2: 10 },
        cohort: { headers: { cookie: { regex: '(' } }, subset: 'v2' },
      }),
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatch(/^cohort\.headers\.cookie\.regex: "\(" is not an RE2 regular expression/);
    expect(await names()).toEqual(['primary']);
  });

  test('sticky assignment in local mode: a user the canary answered keeps the canary across stages, nobody else is held, and a rollback releases everyone', async () => {
    gateway.setRoutes(table(100, 0));
    const router = new GatewayRouter(admin, TOKEN);
    const sticky = aRollout('r', { strategy: { stickiness: { cookie: 'weir-version', maxAge: '1h' } } }, 'local');
    const step = anAppliedStep('a1-s0-progressing', 'advance');
    const infer = (cookie?: string) =>
      fetch(`${url}/v2/models/${MODEL}/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}) },
        body: JSON.stringify(body),
      });
    await router.setRoutes(sticky, routeTarget(sticky.spec, { canaryWeight: 10, mirrorPercent: 0 }), step);
    // New users follow the weights; those v2 answered get its cookie, v1's answers set none.
    const first = await Promise.all(Array.from({ length: 200 }, () => infer()));
    const byVersion = await Promise.all(
      first.map(async (r) => ({
        version: ((await r.json()) as { model_version: string }).model_version,
        cookie: r.headers.get('set-cookie'),
      })),
    );
    const onV2 = byVersion.filter((r) => r.version === 'v2');
    expect(onV2.length).toBeGreaterThan(5);
    expect(onV2.length).toBeLessThan(60);
    expect(new Set(onV2.map((r) => r.cookie))).toEqual(new Set(['weir-version=v2; Max-Age=3600; Path=/']));
    expect(byVersion.filter((r) => r.version === 'v1').every((r) => r.cookie === null)).toBe(true);
    // A stuck user stays on v2 at 10% and after the step to 25%, among other cookies.
    const stuck = 'theme=dark; weir-version=v2';
    const versionsFor = async (cookie: string, n: number) =>
      Promise.all(
        Array.from(
          { length: n },
          async () => ((await (await infer(cookie)).json()) as { model_version: string }).model_version,
        ),
      );
    expect(new Set(await versionsFor(stuck, 40))).toEqual(new Set(['v2']));
    await router.setRoutes(sticky, routeTarget(sticky.spec, { canaryWeight: 25, mirrorPercent: 0 }), step);
    expect(new Set(await versionsFor(stuck, 40))).toEqual(new Set(['v2']));
    // Rolled back: the sticky route is gone, so the cookie no longer holds anyone on v2.
    await router.setRoutes(sticky, routeTarget(sticky.spec, { canaryWeight: 0, mirrorPercent: 0 }), step);
    expect(new Set(await versionsFor(stuck, 40))).toEqual(new Set(['v1']));
    const routesNow = await request(`${admin}/routes`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(routesNow.body.http.map((r: { name?: string }) => r.name)).toEqual(['primary']);
    expect(routesNow.body.http[0].route.every((d: { headers?: unknown }) => d.headers === undefined)).toBe(true);
  });
});
