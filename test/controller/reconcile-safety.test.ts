// The write ordering of reconcile (issue 11, bug 6), on the real file store and
// a real gateway: a rollback takes traffic off the canary even when status
// cannot be written, survives a crash between the two writes, and more
// traffic is never given before status records it. Faults are injected into
// the real store's writes. The rollout has no gates at all, so deciding again
// instead of completing a rollback would advance it at once: any lapse shows.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { createLogger } from '../../shared/log.js';
import { reconcile, type ControllerParts } from '../../controller/src/controller/reconcile.js';
import { routeOwners } from '../../controller/src/controller/ownership.js';
import { UnwrittenDecisions } from '../../controller/src/controller/unwritten.js';
import { startPrometheus, type PrometheusProcess } from '../../controller/src/local/prometheus-process.js';
import { Gateway } from '../../controller/src/local/gateway/server.js';
import { parseRouteTable, weightsOf } from '../../controller/src/local/gateway/routes.js';
import { FileRolloutStore } from '../../controller/src/providers/file/store.js';
import { GatewayRouter } from '../../controller/src/providers/gateway/router.js';
import { PrometheusMetrics } from '../../controller/src/providers/prometheus/provider.js';
import { ConflictError, type RolloutStore } from '../../controller/src/providers/types.js';
import { waitFor } from '../../shared/wait.js';
import { aRouteTable, aSpecInput } from '../support/fixtures.js';

const TOKEN = 'reconcile-safety-token-0123456789';
// Failed writes are logged at error level on purpose here; the test reads results, not logs.
const log = createLogger('test', 'error', () => undefined);
let dir: string;
let gateway: Gateway;
let router: GatewayRouter;
let store: FileRolloutStore;

/** The real store, whose status writes fail while `failing` says so (as a read-only folder or an API server 5xx would). */
function faulty(inner: RolloutStore, failing: () => Error | undefined): RolloutStore & { writes: number } {
  const wrapped = {
    writes: 0,
    list: () => inner.list(),
    get: (key: string) => inner.get(key),
    addCommand: inner.addCommand.bind(inner),
    async writeStatus(...args: Parameters<RolloutStore['writeStatus']>) {
      const err = failing();
      if (err) throw err;
      wrapped.writes++;
      return inner.writeStatus(...args);
    },
  };
  return wrapped;
}

function parts(
  rolloutStore: RolloutStore,
  memory = new UnwrittenDecisions(),
  prometheusUrl = 'http://127.0.0.1:9',
): ControllerParts {
  // By default Prometheus is unreachable: every query is nodata, and the gate-less rollout needs none.
  return {
    store: rolloutStore,
    router,
    metrics: new PrometheusMetrics({ url: prometheusUrl }),
    log,
    namespace: 'local',
    unwritten: memory,
  };
}

/** A gauge the test sets, scraped by a real Prometheus: the guardrail's metric. */
let exporter: http.Server;
let guardrailValue = 0;
let prometheus: PrometheusProcess;
beforeAll(async () => {
  exporter = http.createServer((_req, res) =>
    res.end(`# TYPE test_guardrail_value gauge\ntest_guardrail_value ${guardrailValue}\n`),
  );
  await new Promise<void>((resolve) => exporter.listen(0, '127.0.0.1', () => resolve()));
  prometheus = await startPrometheus({
    targets: [{ job: 'test', targets: [`127.0.0.1:${(exporter.address() as AddressInfo).port}`] }],
    scrapeInterval: '200ms',
  });
}, 60_000);
afterAll(async () => {
  await prometheus?.stop();
  await new Promise((resolve) => exporter.close(resolve));
});

/** Sets the gauge and waits until Prometheus answers with it. */
async function setGuardrail(value: number): Promise<void> {
  guardrailValue = value;
  const answers = async () => {
    const body = (await (await fetch(`${prometheus.url}/api/v1/query?query=max(test_guardrail_value)`)).json()) as {
      data: { result: { value: [number, string] }[] };
    };
    return Number(body.data.result[0]?.value[1]) === value;
  };
  await waitFor(answers, 10_000, `Prometheus to answer ${value}`, 100);
}

/** A second rollout file, on a route of its own or a shared one, with a guardrail on the test gauge. */
async function guarded(name: string, failureLimit: number): Promise<void> {
  await writeFile(
    path.join(dir, `${name}.yaml`),
    stringify({
      apiVersion: 'weir.dev/v1alpha1',
      kind: 'ModelRollout',
      metadata: { name },
      spec: {
        ...aSpecInput(),
        strategy: { steps: [10, 25, 50, 100], minStageDuration: '0s', minSamplesPerStage: 0 },
        analysis: {
          interval: '1s',
          guardrails: [{ name: 'gauge', query: 'max(test_guardrail_value)', max: 1, failureLimit }],
        },
      },
    }),
  );
}

const canary = () => weightsOf(gateway.routes, 'primary').v2;
const readOnly = () =>
  Object.assign(new Error("EACCES: permission denied, open 'price-direction.yaml.tmp'"), { code: 'EACCES' });

async function at50(p: ControllerParts): Promise<void> {
  for (const weight of [10, 25, 50]) {
    const result = await reconcile(p, 'price-direction');
    expect(result.decision).toMatchObject({ action: 'advance', canaryWeight: weight });
  }
  expect(canary()).toBe(50);
}

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'weir-reconcile-'));
  await writeFile(
    path.join(dir, 'price-direction.yaml'),
    stringify({
      apiVersion: 'weir.dev/v1alpha1',
      kind: 'ModelRollout',
      metadata: { name: 'price-direction' },
      spec: {
        ...aSpecInput(),
        strategy: { steps: [10, 25, 50, 100], minStageDuration: '0s', minSamplesPerStage: 0 },
        analysis: { interval: '1s' },
      },
    }),
  );
  gateway = new Gateway(
    {
      table: aRouteTable(),
      backends: {},
      service: 'predictor',
      token: TOKEN,
    },
    log,
  );
  const ports = await gateway.listen(0, 0);
  router = new GatewayRouter(`http://127.0.0.1:${ports.adminPort}`, TOKEN);
  store = new FileRolloutStore(dir);
});
afterEach(async () => {
  await gateway.close();
  await rm(dir, { recursive: true, force: true });
});

describe('reconcile ordering', () => {
  test('a rollback reaches the route although status cannot be written, stays there, and is recorded as decided once writes work', async () => {
    let broken = false;
    const s = faulty(store, () => (broken ? readOnly() : undefined));
    const p = parts(s);
    await at50(p);
    broken = true;
    await store.addCommand('price-direction', {
      type: 'abort',
      by: 'carol@example.com',
      at: '2026-11-23T10:00:00.000Z',
    });
    const first = await reconcile(p, 'price-direction');
    expect(first).toMatchObject({
      decision: { action: 'rollback', canaryWeight: 0 },
      routed: true,
      statusFailure: expect.stringContaining('EACCES'),
    });
    expect(canary()).toBe(0);
    // Rounds go on while the store stays read-only: the canary stays at 0%, whatever is decided.
    for (let i = 0; i < 5; i++) {
      const again = await reconcile(p, 'price-direction');
      expect(again.decision).toMatchObject({ action: 'rollback', canaryWeight: 0, stepId: 'a1-s2-rolledback' });
      expect(canary()).toBe(0);
    }
    broken = false;
    const healed = await reconcile(p, 'price-direction');
    expect(healed.statusFailure).toBeUndefined();
    const { rollout, commands } = await store.get('price-direction');
    expect(commands).toEqual([]);
    expect(rollout.status).toMatchObject({ phase: 'RolledBack', canaryWeight: 0, refusedCommands: [] });
    expect(rollout.status!.history.at(-1)).toMatchObject({
      action: 'rollback',
      by: 'carol@example.com',
      stepId: 'a1-s2-rolledback',
      at: first.decision!.applied.at,
    });
    expect(rollout.status!.history.filter((h) => h.action === 'rollback')).toHaveLength(1);
    // Finished and recorded: later rounds write nothing.
    const writes = s.writes;
    await reconcile(p, 'price-direction');
    await reconcile(p, 'price-direction');
    expect(s.writes).toBe(writes);
  });

  test('a controller that dies between the route write and the status write: the next one completes the rollback from the route', async () => {
    let die = false;
    await at50(parts(store));
    await store.addCommand('price-direction', {
      type: 'abort',
      by: 'carol@example.com',
      at: '2026-11-23T10:00:00.000Z',
    });
    // The first controller writes the route, then "dies" at the status write: nothing of it survives but the route.
    die = true;
    const dying = await reconcile(
      parts(faulty(store, () => (die ? new Error('killed') : undefined))),
      'price-direction',
    );
    expect(dying.decision!.action).toBe('rollback');
    expect(canary()).toBe(0);
    // A new controller, with no memory, and nothing in the metrics that would roll back: it completes the rollback.
    const next = await reconcile(parts(store), 'price-direction');
    expect(next.decision).toMatchObject({ action: 'rollback', stepId: 'a1-s2-rolledback', canaryWeight: 0 });
    expect(next.decision!.reasons[0]).toMatchObject({ kind: 'rollout', verdict: 'recovered' });
    expect(canary()).toBe(0);
    const { rollout, commands } = await store.get('price-direction');
    expect(rollout.status!.phase).toBe('RolledBack');
    expect(commands).toEqual([]); // the abort is consumed, not refused
    expect(rollout.status!.refusedCommands).toEqual([]);
  });

  test('both writes fail: the rollback is kept in memory and lands on the route as soon as the route can be written', async () => {
    await at50(parts(store));
    const adminUrl = (router as unknown as { adminUrl: string }).adminUrl;
    const memory = new UnwrittenDecisions();
    const p = parts(
      faulty(store, () => readOnly()),
      memory,
    );
    // The router cannot reach the gateway either.
    p.router = new GatewayRouter('http://127.0.0.1:9', TOKEN);
    const brokenRead = await reconcile(p, 'price-direction').catch((err: unknown) => err);
    expect(String(brokenRead)).toContain('fetch failed'); // cannot even read the route: nothing decided, retried with backoff
    await store.addCommand('price-direction', { type: 'abort', by: 'dave', at: '2026-11-23T10:00:00.000Z' });
    // Reads work, writes fail: the gateway answers GETs but refuses the PUT (a wrong token would look like this).
    p.router = {
      getRoutes: (r) => new GatewayRouter(adminUrl, TOKEN).getRoutes(r),
      setRoutes: () => Promise.reject(new Error('gateway PUT: HTTP 503')),
    };
    const failed = await reconcile(p, 'price-direction');
    expect(failed).toMatchObject({
      decision: { action: 'rollback' },
      routeFailure: expect.stringContaining('503'),
      statusFailure: expect.stringContaining('EACCES'),
    });
    expect(memory.has('price-direction')).toBe(true);
    expect(canary()).toBe(50);
    // The route heals; status does not. The remembered rollback lands, not a fresh decision.
    p.router = router;
    const landed = await reconcile(p, 'price-direction');
    expect(landed).toMatchObject({ decision: { action: 'rollback', stepId: 'a1-s2-rolledback' }, routed: true });
    expect(canary()).toBe(0);
  });

  test('status writes that always conflict (commands keep arriving) do not stop a rollback', async () => {
    await at50(parts(store));
    await store.addCommand('price-direction', { type: 'abort', by: 'erin', at: '2026-11-23T10:00:00.000Z' });
    const conflicting = faulty(store, () => new ConflictError('changed since revision'));
    await expect(reconcile(parts(conflicting), 'price-direction')).rejects.toBeInstanceOf(ConflictError);
    expect(canary()).toBe(0);
  });

  test('more traffic only after status records it: an advance whose status write fails leaves the route where it was', async () => {
    let broken = false;
    const p = parts(faulty(store, () => (broken ? readOnly() : undefined)));
    await reconcile(p, 'price-direction'); // 10%
    broken = true;
    const held = await reconcile(p, 'price-direction');
    expect(held).toMatchObject({
      decision: { action: 'advance', canaryWeight: 25 },
      routed: false,
      statusFailure: expect.stringContaining('EACCES'),
    });
    expect(canary()).toBe(10);
    broken = false;
    expect((await reconcile(p, 'price-direction')).routed).toBe(true);
    expect(canary()).toBe(25);
  });

  test('level-triggered: a finished rollout is put back at 0% (or 100%) whatever someone sets on the route', async () => {
    await at50(parts(store));
    await store.addCommand('price-direction', { type: 'abort', by: 'carol', at: 't' });
    await reconcile(parts(store), 'price-direction');
    expect(canary()).toBe(0);
    await fetch(`${(router as unknown as { adminUrl: string }).adminUrl}/routes/primary/weights`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ weights: { v1: 50, v2: 50 } }),
    });
    expect(canary()).toBe(50);
    const fixed = await reconcile(parts(store), 'price-direction');
    expect(fixed).toMatchObject({ decision: { action: 'hold', canaryWeight: 0 }, routed: true });
    expect(canary()).toBe(0);
  });

  test('a guardrail rollback whose metric recovers before anything could be written still lands (remembered, not decided again)', async () => {
    await rm(path.join(dir, 'price-direction.yaml'));
    await guarded('guarded', 1);
    await setGuardrail(0);
    let statusBroken = false;
    let routeBroken = false;
    const s = faulty(store, () => (statusBroken ? readOnly() : undefined));
    const p = parts(s, new UnwrittenDecisions(), prometheus.url);
    const realRouter = router;
    p.router = {
      getRoutes: (r) => realRouter.getRoutes(r),
      setRoutes: (...args) =>
        routeBroken ? Promise.reject(new Error('gateway PUT: HTTP 503')) : realRouter.setRoutes(...args),
    };
    for (const weight of [10, 25, 50])
      expect((await reconcile(p, 'guarded')).decision).toMatchObject({ action: 'advance', canaryWeight: weight });
    // The guardrail fails while neither the route nor status can be written.
    statusBroken = true;
    routeBroken = true;
    await setGuardrail(5);
    expect(await reconcile(p, 'guarded')).toMatchObject({
      decision: { action: 'rollback' },
      routeFailure: expect.any(String),
      statusFailure: expect.any(String),
    });
    expect(canary()).toBe(50);
    // The metric recovers; the route can be written again, status cannot. Deciding again would advance to 100%.
    await setGuardrail(0);
    routeBroken = false;
    const landed = await reconcile(p, 'guarded');
    expect(landed).toMatchObject({ decision: { action: 'rollback', canaryWeight: 0 }, routed: true });
    expect(canary()).toBe(0);
    // Someone puts the weights back by hand, dropping the route's record: memory still holds the rollback.
    await fetch(`${(realRouter as unknown as { adminUrl: string }).adminUrl}/routes/primary/weights`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ weights: { v1: 50, v2: 50 } }),
    });
    expect((await reconcile(p, 'guarded')).decision).toMatchObject({ action: 'rollback', canaryWeight: 0 });
    expect(canary()).toBe(0);
    statusBroken = false;
    await reconcile(p, 'guarded');
    expect((await store.get('guarded')).rollout.status).toMatchObject({ phase: 'RolledBack', canaryWeight: 0 });
  });

  test('with status unwritable, consecutive guardrail failures still count: failureLimit 2 trips on the second failed check', async () => {
    await rm(path.join(dir, 'price-direction.yaml'));
    await guarded('guarded', 2);
    await setGuardrail(0);
    let broken = false;
    const p = parts(
      faulty(store, () => (broken ? readOnly() : undefined)),
      new UnwrittenDecisions(),
      prometheus.url,
    );
    for (const weight of [10, 25, 50])
      expect((await reconcile(p, 'guarded')).decision).toMatchObject({ action: 'advance', canaryWeight: weight });
    broken = true;
    await setGuardrail(5);
    expect((await reconcile(p, 'guarded')).decision).toMatchObject({
      action: 'hold',
      statusPatch: { guardrailFailures: { gauge: 1 } },
    });
    expect(canary()).toBe(50);
    expect((await reconcile(p, 'guarded')).decision).toMatchObject({ action: 'rollback', canaryWeight: 0 });
    expect(canary()).toBe(0);
  });

  test('a new canary in the spec of a finished rollout starts a new attempt; nothing else moves its traffic to another version', async () => {
    const p = parts(store);
    await at50(p);
    await store.addCommand('price-direction', { type: 'promote', full: true, by: 'erin', at: 't' });
    await reconcile(p, 'price-direction');
    expect(weightsOf(gateway.routes, 'primary')).toEqual({ v1: 0, v2: 100 });
    // The next release: stable v2, canary v3 (a GitOps sync of the same object).
    const file = path.join(dir, 'price-direction.yaml');
    await writeFile(
      file,
      (await readFile(file, 'utf8')).replace(
        'stable:\n    version: v1\n  canary:\n    version: v2',
        'stable:\n    version: v2\n  canary:\n    version: v3',
      ),
    );
    gateway.setRoutes(
      parseRouteTable({
        http: [
          {
            name: 'primary',
            route: [
              { destination: { host: 'predictor', subset: 'v2' }, weight: 100 },
              { destination: { host: 'predictor', subset: 'v3' }, weight: 0 },
            ],
          },
        ],
      }),
    );
    const next = await reconcile(p, 'price-direction');
    expect(next.decision).toMatchObject({
      action: 'advance',
      canaryWeight: 10,
      statusPatch: {
        attempt: 2,
        stage: 0,
        phase: 'Progressing',
        versions: { stable: { version: 'v2' }, canary: { version: 'v3' } },
      },
    });
    expect(weightsOf(gateway.routes, 'primary')).toEqual({ v2: 90, v3: 10 });
  });

  test('two rollouts on one route: the live one owns it; the finished one neither writes it nor fights', async () => {
    await at50(parts(store));
    await store.addCommand('price-direction', { type: 'abort', by: 'carol', at: 't' });
    await reconcile(parts(store), 'price-direction');
    await guarded('guarded', 1);
    await setGuardrail(0);
    const p = parts(store, new UnwrittenDecisions(), prometheus.url);
    const { rollouts } = await store.list();
    const owners = routeOwners(rollouts, 'local');
    expect(Object.fromEntries(owners)).toEqual({ 'price-direction': 'guarded' });
    expect((await reconcile(p, 'guarded')).decision).toMatchObject({ action: 'advance', canaryWeight: 10 });
    // The rolled-back one is level-triggered, but not on a route another owns: it leaves the 10% alone.
    const finished = await reconcile(p, 'price-direction', { routeOwner: 'guarded' });
    expect(finished).toMatchObject({ decision: { action: 'hold', canaryWeight: 0 }, routed: false });
    expect(canary()).toBe(10);
  });
});
