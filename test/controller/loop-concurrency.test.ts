// The controller loop reconciles due rollouts several at a time (issue 16: one
// at a time could not keep 1,000 rollouts within their interval), on the real
// file store and a real gateway. The router is the real GatewayRouter, wrapped
// to count reconciles in flight and to take a while, as an API server does.
// Checked: no more than `concurrency` at once, more than one when allowed, never
// the same rollout twice at once, and every due rollout once per round.
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { createLogger } from '../../shared/log.js';
import { waitFor } from '../../shared/wait.js';
import { ControllerLoop } from '../../controller/src/controller/loop.js';
import { Gateway } from '../../controller/src/local/gateway/server.js';
import { parseRouteTable, weightsOf } from '../../controller/src/local/gateway/routes.js';
import { FileRolloutStore } from '../../controller/src/providers/file/store.js';
import { GatewayRouter } from '../../controller/src/providers/gateway/router.js';
import { PrometheusMetrics } from '../../controller/src/providers/prometheus/provider.js';
import type { TrafficRouter } from '../../controller/src/providers/types.js';
import { scrape } from '../support/metrics.js';
import { aSpecInput } from '../support/fixtures.js';

const TOKEN = 'loop-concurrency-token-0123456789';
const ROLLOUTS = 12;
const log = createLogger('test', 'error', () => undefined);
let dir: string;
let gateway: Gateway;

/** The real router; each read takes 100 ms, and the reads in flight are counted per rollout and in all. */
function slowRouter(inner: TrafficRouter) {
  const seen = { inFlight: 0, maxInFlight: 0, overlapping: 0, reads: new Map<string, number>() };
  const busy = new Set<string>();
  const router: TrafficRouter = {
    async getRoutes(rollout) {
      const name = rollout.metadata.name;
      if (busy.has(name)) seen.overlapping++;
      busy.add(name);
      seen.inFlight++;
      seen.maxInFlight = Math.max(seen.maxInFlight, seen.inFlight);
      try {
        await sleep(100);
        return await inner.getRoutes(rollout);
      } finally {
        seen.inFlight--;
        busy.delete(name);
        seen.reads.set(name, (seen.reads.get(name) ?? 0) + 1);
      }
    },
    setRoutes: (...args) => inner.setRoutes(...args),
  };
  return { router, seen };
}

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'weir-loop-'));
  const routes = [];
  for (let i = 0; i < ROLLOUTS; i++) {
    await writeFile(
      path.join(dir, `r${i}.yaml`),
      stringify({
        apiVersion: 'weir.dev/v1alpha1',
        kind: 'ModelRollout',
        metadata: { name: `r${i}` },
        spec: {
          ...aSpecInput({ virtualService: { name: 'predictor', route: `route-${i}` } }),
          analysis: { interval: '30s' },
        },
      }),
    );
    routes.push({
      name: `route-${i}`,
      route: [
        { destination: { host: 'predictor', subset: 'v1' }, weight: 100 },
        { destination: { host: 'predictor', subset: 'v2' }, weight: 0 },
      ],
    });
  }
  gateway = new Gateway(
    { table: parseRouteTable({ http: routes }), backends: {}, service: 'predictor', token: TOKEN },
    log,
  );
});
afterEach(async () => {
  await gateway.close();
  await rm(dir, { recursive: true, force: true });
});

async function oneRound(concurrency: number) {
  const { adminPort } = await gateway.listen(0, 0);
  const { router, seen } = slowRouter(new GatewayRouter(`http://127.0.0.1:${adminPort}`, TOKEN));
  const loop = new ControllerLoop(
    {
      store: new FileRolloutStore(dir),
      router,
      // Unreachable: every query is nodata; the first stage needs none.
      metrics: new PrometheusMetrics({ url: 'http://127.0.0.1:9', retries: 0, timeoutMs: 200 }),
      log,
      namespace: 'local',
    },
    { concurrency },
  );
  const port = await loop.listen(0);
  loop.start();
  try {
    // Each rollout is due once in the first round, then not for 30 s.
    await waitFor(() => [...seen.reads.values()].reduce((a, b) => a + b, 0) >= ROLLOUTS, 20_000, 'a round');
    await sleep(1200);
    const metrics = await scrape(`http://127.0.0.1:${port}/metrics`);
    return { seen, metrics };
  } finally {
    await loop.stop();
  }
}

describe('the controller loop', () => {
  test('reconciles up to `concurrency` rollouts at once, each once per round, never one twice at once', async () => {
    const { seen, metrics } = await oneRound(4);
    expect(seen.maxInFlight).toBe(4);
    expect(seen.overlapping).toBe(0);
    // Every rollout read exactly once (its interval is 30 s) and started its first stage.
    expect([...seen.reads.keys()].sort()).toEqual(Array.from({ length: ROLLOUTS }, (_, i) => `r${i}`).sort());
    expect([...seen.reads.values()].every((n) => n === 1)).toBe(true);
    for (let i = 0; i < ROLLOUTS; i++) expect(weightsOf(gateway.routes, `route-${i}`).v2).toBe(10);
    const sample = (name: string) => metrics.find((s) => s.name === name)?.value;
    expect(sample('weir_controller_round_rollouts')).toBe(ROLLOUTS);
    expect(sample('weir_controller_round_seconds_count')).toBe(1);
    // 12 reads of 100 ms, 4 at a time: at least three waves.
    expect(sample('weir_controller_round_seconds_sum')).toBeGreaterThanOrEqual(0.3);
    expect(sample('weir_controller_decision_to_route_seconds_count')).toBe(ROLLOUTS);
  }, 30_000);

  test('with concurrency 1, one at a time', async () => {
    const { seen } = await oneRound(1);
    expect(seen.maxInFlight).toBe(1);
    expect([...seen.reads.values()].every((n) => n === 1)).toBe(true);
  }, 30_000);
});
