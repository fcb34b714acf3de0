// The shared prediction log on a real Redis: feedback posted through the
// gateway reaches any replica of any version and is counted exactly once per
// (id, version), for the shadow too; a Redis outage never fails inference.
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createClient } from 'redis';
import { Gateway } from '../../controller/src/local/gateway/server.js';
import { parseRouteTable } from '../../controller/src/local/gateway/routes.js';
import type { PredictorProcess } from '../../controller/src/local/predictor-process.js';
import { redisCommand, startRedis, type RedisProcess } from '../../controller/src/local/redis-process.js';
import { createLogger } from '../../shared/log.js';
import { GraphBuilder } from '../../predictor/training/onnx-graph.js';
import { MODEL, inferBody, marketRows, metric, predictorsPerTest, request, waitFor } from '../support/predictor.js';

const start = predictorsPerTest();
let redis: RedisProcess;
let dataDir: string;

beforeAll(async () => {
  // Append-only, so a restart keeps what was logged (the outage test restarts it on the same port).
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'weir-redis-'));
  redis = await startRedis({ dir: dataDir });
});
afterAll(async () => {
  await redis?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

const logged = (extra: string[] = []) => ({
  args: ['--prediction-log', `${redis.url}/0`, '--log-level', 'warn', '--cache-max-entries', '0', ...extra],
});

/** Sum of a metric over every predictor's /metrics. */
async function total(predictors: PredictorProcess[], name: string, where: Record<string, string> = {}) {
  let sum = 0;
  for (const p of predictors) sum += await metric(p, name, where);
  return sum;
}

async function gatewayFor(backends: Record<string, string[]>, weights: Record<string, number>, mirror?: string) {
  const gateway = new Gateway(
    {
      table: parseRouteTable({
        http: [
          {
            name: 'primary',
            route: Object.entries(weights).map(([subset, weight]) => ({
              destination: { host: 'predictor', subset },
              weight,
            })),
            // As the VirtualService in manifests/istio does: a dead pod is retried on another.
            retries: { attempts: 2, retryOn: 'connect-failure' },
            ...(mirror ? { mirror: { host: 'predictor', subset: mirror }, mirrorPercentage: { value: 100 } } : {}),
          },
        ],
      }),
      backends,
      service: 'predictor',
      token: 'gateway-admin-token',
    },
    createLogger('gateway', 'error'),
  );
  const ports = await gateway.listen(0, 0);
  return { gateway, url: `http://127.0.0.1:${ports.port}` };
}

describe('the prediction log in Redis', () => {
  let gateway: Gateway | undefined;
  afterEach(async () => {
    await gateway?.close();
    gateway = undefined;
  });

  test('feedback through the gateway, a replica killed before it: each prediction counted once for its version, and the shadow too', async () => {
    const [v1a, v1b, v2, v3] = await Promise.all([
      start({ version: 'v1', ...logged() }),
      start({ version: 'v1', ...logged() }),
      start({ version: 'v2', ...logged() }),
      start({ version: 'v3', ...logged() }),
    ]);
    const mesh = await gatewayFor({ v1: [v1a!.url, v1b!.url], v2: [v2!.url], v3: [v3!.url] }, { v1: 50, v2: 50 }, 'v3');
    gateway = mesh.gateway;
    const rows = marketRows(240);
    const answered = new Map<string, { version: string; predicted: number; label: number }>();
    for (let i = 0; i < rows.length; i += 20) {
      const replies = await Promise.all(
        rows.slice(i, i + 20).map((row) =>
          request(`${mesh.url}/v2/models/${MODEL}/infer`, { body: inferBody([row.features]) }).then((r) => ({
            r,
            row,
          })),
        ),
      );
      for (const { r, row } of replies) {
        expect(r.status).toBe(200);
        answered.set(r.body.id, {
          version: r.body.model_version,
          predicted: r.body.outputs.find((o: { name: string }) => o.name === 'label').data[0],
          label: row.label,
        });
      }
    }
    const byVersion = (v: string) => [...answered.values()].filter((a) => a.version === v);
    expect(byVersion('v1').length).toBeGreaterThan(60);
    expect(byVersion('v2').length).toBeGreaterThan(60);
    expect(byVersion('v3')).toHaveLength(0);

    // The shadow's copies are logged under the same ids (the mesh's x-request-id).
    const client = createClient({ url: redis.url });
    await client.connect();
    try {
      await waitFor(
        async () => {
          const replies = await Promise.all(
            [...answered.keys()].map((id) => client.hExists(`weir:${MODEL}:${id}`, 'r:v3')),
          );
          return replies.every((r) => Number(r) === 1);
        },
        10_000,
        'every shadow prediction in Redis',
      );
    } finally {
      await client.close();
    }

    // A v1 replica dies between prediction and feedback; labels still reach every version.
    v1a!.child.kill('SIGKILL');
    await v1a!.exited;
    const ids = [...answered.keys()];
    const post = (items: { id: string; label: number }[]) =>
      request(`${mesh.url}/v2/models/${MODEL}/feedback`, { body: items });
    for (let i = 0; i < ids.length; i += 40) {
      const batch = ids.slice(i, i + 40).map((id) => ({ id, label: answered.get(id)!.label }));
      const reply = await post(batch);
      expect(reply).toMatchObject({ status: 200, body: { accepted: batch.length, duplicates: 0 } });
    }
    // A client's retry of everything is a duplicate: 200, and counted as such only.
    for (let i = 0; i < ids.length; i += 40) {
      const reply = await post(ids.slice(i, i + 40).map((id) => ({ id, label: answered.get(id)!.label })));
      expect(reply.status).toBe(200);
      expect(reply.body.accepted).toBe(0);
    }

    const alive = [v1b!, v2!, v3!];
    for (const version of ['v1', 'v2']) {
      const mine = byVersion(version);
      const correct = mine.filter((a) => a.predicted === a.label).length;
      expect(await total(alive, 'weir_predictor_feedback_total', { version })).toBe(mine.length);
      expect(await total(alive, 'weir_predictor_feedback_total', { version, outcome: 'correct' })).toBe(correct);
      expect(await total(alive, 'weir_predictor_confusion_total', { version })).toBe(mine.length);
      expect(await total(alive, 'weir_predictor_confusion_total', { version, predicted: '1', actual: '1' })).toBe(
        mine.filter((a) => a.predicted === 1 && a.label === 1).length,
      );
      // Each v1/v2 prediction pairs with the shadow's of the same request, once.
      expect(await total(alive, 'weir_predictor_paired_feedback_total', { version: 'v3', baseline: version })).toBe(
        mine.length,
      );
      expect(
        await total(alive, 'weir_predictor_paired_feedback_total', {
          version,
          baseline: 'v3',
          outcome: 'both_correct',
        }),
      ).toBe(
        await total(alive, 'weir_predictor_paired_feedback_total', {
          version: 'v3',
          baseline: version,
          outcome: 'both_correct',
        }),
      );
      expect(await total(alive, 'weir_predictor_paired_loss_samples_total', { version: 'v3', baseline: version })).toBe(
        mine.length,
      );
    }
    // The shadow is scored for every request it saw, exactly once, though each label also reached it mirrored.
    expect(await total(alive, 'weir_predictor_feedback_total', { version: 'v3' })).toBe(answered.size);
    // The client's second round: each request's two predictions (v1 or v2, and the shadow) are duplicates.
    expect(await total(alive, 'weir_predictor_feedback_duplicates_total')).toBe(answered.size * 2);
  });

  test('duplicate and concurrent feedback for one prediction is counted once; unknown is 404', async () => {
    const [a, b] = await Promise.all([start({ version: 'v1', ...logged() }), start({ version: 'v1', ...logged() })]);
    const row = marketRows(1)[0]!;
    const reply = await request(`${a!.url}/v2/models/${MODEL}/infer`, { body: inferBody([row.features]) });
    await waitFor(
      async () =>
        (await request(`${b!.url}/v2/models/${MODEL}/feedback`, { body: { id: 'nope', label: 1 } })).status === 404,
      5000,
      'the unknown id to be 404',
    );
    const id = reply.body.id as string;
    await untilLogged(id);
    const replies = await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        request(`${(i % 2 ? a : b)!.url}/v2/models/${MODEL}/feedback`, { body: { id, label: row.label } }),
      ),
    );
    expect(replies.map((r) => r.status)).toEqual(Array(24).fill(200));
    expect(replies.filter((r) => r.body.accepted === 1)).toHaveLength(1);
    expect(replies.filter((r) => r.body.duplicates === 1)).toHaveLength(23);
    expect(await total([a!, b!], 'weir_predictor_feedback_total')).toBe(1);
    expect(await total([a!, b!], 'weir_predictor_feedback_duplicates_total')).toBe(23);
  });

  test('claims Redis confirms after the request gave up (503) are still counted; the retry is a duplicate', async () => {
    const p = await start({ version: 'v1', ...logged() });
    const row = marketRows(1)[0]!;
    const { body } = await request(`${p.url}/v2/models/${MODEL}/infer`, { body: inferBody([row.features]) });
    await untilLogged(body.id);
    // Writes pause for 3 s, reads go on: the lookup answers, the claim (a write) waits past the 2 s the request waits.
    expect(await redisCommand(redis.port, 'CLIENT PAUSE 3000 WRITE')).toMatch(/^\+OK/);
    const late = await request(`${p.url}/v2/models/${MODEL}/feedback`, { body: { id: body.id, label: row.label } });
    expect(late.status).toBe(503);
    expect(late.body.error).toContain('did not confirm the claims');
    await waitFor(
      async () => (await total([p], 'weir_predictor_feedback_total')) === 1,
      10_000,
      'the late claim to count',
    );
    const retry = await request(`${p.url}/v2/models/${MODEL}/feedback`, { body: { id: body.id, label: row.label } });
    expect(retry).toMatchObject({ status: 200, body: { accepted: 0, duplicates: 1 } });
    expect(await total([p], 'weir_predictor_feedback_total')).toBe(1);
  });

  test('one x-request-id on two different calls gives two prediction ids; the same call repeated gives one', async () => {
    const p = await start({ version: 'v1', ...logged() });
    const [a, b] = marketRows(2);
    const call = (features: number[]) =>
      request(`${p.url}/v2/models/${MODEL}/infer`, {
        body: inferBody([features]),
        headers: { 'x-request-id': 'upstream-request-7' },
      });
    const first = await call(a!.features);
    const second = await call(b!.features);
    const again = await call(a!.features);
    expect(first.body.id).toMatch(/^upstream-request-7\./);
    expect(second.body.id).not.toBe(first.body.id);
    expect(again.body.id).toBe(first.body.id);
    // Each call's label scores its own prediction.
    await untilLogged(second.body.id);
    const reply = await request(`${p.url}/v2/models/${MODEL}/feedback`, {
      body: [
        { id: first.body.id, label: a!.label },
        { id: second.body.id, label: b!.label },
      ],
    });
    expect(reply).toMatchObject({ status: 200, body: { accepted: 2, duplicates: 0 } });
    expect(await total([p], 'weir_predictor_feedback_total')).toBe(2);
  });

  test('a feedback token is required when set: missing or wrong is 401, nothing counted', async () => {
    const p = await start({ version: 'v1', ...logged(), env: { WEIR_PREDICTOR_FEEDBACK_TOKEN: 'labeller-secret' } });
    const row = marketRows(1)[0]!;
    const { body } = await request(`${p.url}/v2/models/${MODEL}/infer`, { body: inferBody([row.features]) });
    await untilLogged(body.id);
    const url = `${p.url}/v2/models/${MODEL}/feedback`;
    const item = { id: body.id, label: row.label };
    expect((await request(url, { body: item })).status).toBe(401);
    expect((await request(url, { body: item, headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await request(url, { body: item, headers: { authorization: 'labeller-secret' } })).status).toBe(401);
    expect(await total([p], 'weir_predictor_feedback_total')).toBe(0);
    const ok = await request(url, { body: item, headers: { authorization: 'Bearer labeller-secret' } });
    expect(ok).toMatchObject({ status: 200, body: { accepted: 1 } });
    // The token never appears in the log.
    expect(p.logs.join('\n')).not.toContain('labeller-secret');
  });

  test('Redis stopped and restarted under load: inference never fails, feedback is 503 then succeeds on retry', async () => {
    const p = await start({ version: 'v1', ...logged() });
    const url = `${p.url}/v2/models/${MODEL}/infer`;
    const rows = marketRows(400);
    const before = await request(url, { body: inferBody([rows[0]!.features]) });
    await untilLogged(before.body.id);

    let running = true;
    const statuses: number[] = [];
    const load = (async () => {
      for (let i = 1; running; i++) {
        const r = await request(url, { body: inferBody([rows[i % rows.length]!.features]) }).catch(() => ({
          status: 0,
        }));
        statuses.push(r.status);
      }
    })();
    try {
      await waitFor(async () => statuses.length > 50, 10_000, 'load to run');
      await redis.stop();
      const during = await request(`${p.url}/v2/models/${MODEL}/feedback`, {
        body: { id: before.body.id, label: rows[0]!.label },
      });
      expect(during.status).toBe(503);
      expect(Number(during.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(during.body.error).toMatch(/prediction log \(Redis\)/);
      const atStop = statuses.length;
      await waitFor(async () => statuses.length > atStop + 100, 20_000, 'inference to continue while Redis is down');
      expect(await total([p], 'weir_predictor_predictions_unlogged_total')).toBeGreaterThan(0);
      expect(await total([p], 'weir_predictor_prediction_log_up', { log: 'redis' })).toBe(0);

      redis = await startRedis({ port: redis.port, dir: dataDir });
      await waitFor(
        async () => (await total([p], 'weir_predictor_prediction_log_up', { log: 'redis' })) === 1,
        20_000,
        'the predictor to reconnect to Redis',
      );
    } finally {
      running = false;
      await load;
    }
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    // The retry finds the prediction logged before the outage, and counts it.
    const retry = await request(`${p.url}/v2/models/${MODEL}/feedback`, {
      body: { id: before.body.id, label: rows[0]!.label },
    });
    expect(retry).toMatchObject({ status: 200, body: { accepted: 1 } });
    // Logging resumed by itself.
    const after = await request(url, { body: inferBody([rows[1]!.features]) });
    await untilLogged(after.body.id);
    expect(await total([p], 'weir_predictor_feedback_total')).toBe(1);
  });

  test('a regression model: absolute and squared error from labelled values', async () => {
    const repo = await mkdtemp(path.join(os.tmpdir(), 'weir-regression-'));
    try {
      // value = 2·features[0] − 1: a linear model whose errors the test can compute by hand.
      const graph = new GraphBuilder('regression');
      const w = [2, 0, 0, 0, 0, 0, 0, 0, 0];
      const linear = graph.op('Gemm', ['features', graph.floats('w', [9, 1], w), graph.floats('b', [1], [-1])]);
      graph.op('Reshape', [linear, graph.int64s('flat', [-1])], [], 'value');
      const dir = path.join(repo, 'house-price', 'v1');
      await mkdir(dir, { recursive: true });
      await writeFile(
        path.join(dir, 'model.onnx'),
        graph.encode({ input: 'features', width: 9, outputs: [{ name: 'value', type: 'float' }], doc: 'test' }),
      );
      await writeFile(path.join(dir, 'metadata.json'), JSON.stringify({ task: 'regression', output: 'value' }));
      const p = await start({ modelRepository: repo, model: 'house-price', version: 'v1', ...logged() });
      const features = [
        [1, 0, 0, 0, 0, 0, 0, 0, 0],
        [0.5, 0, 0, 0, 0, 0, 0, 0, 0],
      ];
      const reply = await request(`${p.url}/v2/models/house-price/infer`, { body: inferBody(features) });
      expect(reply.body.outputs[0].data).toEqual([1, 0]);
      await untilLogged(reply.body.id, 'house-price');
      const labelled = await request(`${p.url}/v2/models/house-price/feedback`, {
        body: { id: reply.body.id, label: [3, -2] },
      });
      expect(labelled).toMatchObject({ status: 200, body: { accepted: 1 } });
      // Errors: 1 − 3 = −2 and 0 − (−2) = 2: |e| sums to 4, e² to 8.
      expect(await total([p], 'weir_predictor_regression_labelled_total')).toBe(2);
      expect(await total([p], 'weir_predictor_regression_absolute_error_sum_total')).toBe(4);
      expect(await total([p], 'weir_predictor_regression_squared_error_sum_total')).toBe(8);
      // An output that overflows (2 · 3.4e38 is Infinity in FP32) cannot be scored: counted as unlogged, never logged.
      const overflow = await request(`${p.url}/v2/models/house-price/infer`, {
        body: inferBody([[3.4e38, 0, 0, 0, 0, 0, 0, 0, 0]], { id: 'overflow' }),
      });
      expect(overflow.status).toBe(200);
      expect(await total([p], 'weir_predictor_predictions_unlogged_total', { reason: 'invalid' })).toBe(1);
      const unscored = await request(`${p.url}/v2/models/house-price/feedback`, { body: { id: 'overflow', label: 1 } });
      expect(unscored.status).toBe(404);
      expect(await total([p], 'weir_predictor_regression_squared_error_sum_total')).toBe(8);
      const bad = await request(`${p.url}/v2/models/house-price/feedback`, { body: { id: 'x', label: 'tall' } });
      expect(bad.status).toBe(400);
      expect(bad.body.error).toContain('label: "tall" is not the true value');
    } finally {
      await rm(repo, { recursive: true, force: true });
    }
  });
});

/**
 * Posts the label once the prediction is in the log (writes are batched off the
 * request path, so it lands a moment after the answer). Used where the test
 * needs the prediction logged; label defaults to 0 and is posted for real only
 * when `labels` is given.
 */
/** Waits until the shared log holds a prediction under `id`. */
async function untilLogged(id: string, model = MODEL): Promise<void> {
  const client = createClient({ url: redis.url });
  await client.connect();
  try {
    await waitFor(async () => (await client.hLen(`weir:${model}:${id}`)) > 0, 5000, `prediction ${id} in Redis`);
  } finally {
    await client.close();
  }
}
