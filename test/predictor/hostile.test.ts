// The predictor under client mistakes and hostile input (issue 11, bugs 7, 8,
// 10, 11 and 12), each reproduction as it was reported, against real
// predictor processes: 4xx naming the problem, never a 5xx, counters that
// stay finite and all-or-nothing, a cache that follows what was loaded.
import { describe, expect, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { copyFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { predictorEntry } from '../../controller/src/local/predictor-process.js';
import {
  MODEL,
  MODELS_DIR,
  infer,
  inferBody,
  marketRows,
  metric,
  predictorsPerTest,
  request,
  scratchRepositoriesPerTest,
  waitFor,
} from '../support/predictor.js';
import { rawRequest, rawSocket } from '../support/raw-http.js';
import { sleep } from '../../shared/wait.js';

const start = predictorsPerTest();
const repo = scratchRepositoriesPerTest();
const rows = marketRows(8).map((r) => r.features);
const ADMIN = 'predictor-admin-token-0123456789';
const feedbackUrl = (url: string) => `${url}/v2/models/${MODEL}/feedback`;

describe('feedback is bounded and all-or-nothing (bug 7)', () => {
  test('a huge value is refused with 400 before any counter moves; the fixed retry is accepted; counters stay finite', async () => {
    const server = await start();
    const predicted = await infer(server, [rows[0]!], { extra: { id: 'a' } });
    expect(predicted.status).toBe(200);
    for (const value of [1e200, 1e308, -1e10]) {
      const reply = await request(feedbackUrl(server.url), { body: { id: 'a', label: 1, value } });
      expect(reply).toMatchObject({
        status: 400,
        body: {
          error: expect.stringContaining(`value: ${value} is not a finite number from −1000000000 to 1000000000`),
        },
      });
    }
    for (const name of [
      'weir_predictor_feedback_total',
      'weir_predictor_business_value_samples_total',
      'weir_predictor_business_value_squares_sum_total',
    ])
      expect(await metric(server, name)).toBe(0);
    // The prediction was not used up by the refusals: the corrected request counts once.
    expect(await request(feedbackUrl(server.url), { body: { id: 'a', label: 1, value: 12.5 } })).toMatchObject({
      status: 200,
      body: { accepted: 1 },
    });
    expect(await metric(server, 'weir_predictor_business_value_squares_sum_total')).toBe(156.25);
    const text = await (await fetch(`${server.url}/metrics`)).text();
    // No sample is infinite or NaN (the histograms' le="+Inf" bucket label aside).
    expect(text).not.toMatch(/^[^#].* ([+-]?Inf|NaN)$/m);
  });

  test('a list with one row-count mismatch, or one unknown id, counts nothing', async () => {
    const server = await start();
    for (const id of ['x', 'y']) expect((await infer(server, [rows[0]!], { extra: { id } })).status).toBe(200);
    const mismatch = await request(feedbackUrl(server.url), {
      body: [
        { id: 'x', label: 1 },
        { id: 'y', label: [1, 0] },
      ],
    });
    expect(mismatch).toMatchObject({
      status: 422,
      body: {
        accepted: 0,
        error: expect.stringContaining(
          '[1]: id "y": label has 2 entries, but the prediction had 1 rows; nothing in this request was counted',
        ),
      },
    });
    expect(await metric(server, 'weir_predictor_feedback_total')).toBe(0);
    const duplicate = await request(feedbackUrl(server.url), {
      body: [
        { id: 'x', label: 1 },
        { id: 'x', label: 0 },
      ],
    });
    expect(duplicate).toMatchObject({ status: 400, body: { error: expect.stringContaining('appears twice') } });
    const partial = await request(feedbackUrl(server.url), {
      body: [
        { id: 'x', label: 1 },
        { id: 'never', label: 1 },
      ],
    });
    expect(partial).toMatchObject({
      status: 404,
      body: { accepted: 0, rejected: [{ index: 1, id: 'never', reason: 'unknown' }] },
    });
    expect(await metric(server, 'weir_predictor_feedback_total')).toBe(0);
    expect(
      await request(feedbackUrl(server.url), {
        body: [
          { id: 'x', label: 1 },
          { id: 'y', label: 0 },
        ],
      }),
    ).toMatchObject({ status: 200, body: { accepted: 2 } });
    expect(await metric(server, 'weir_predictor_feedback_total')).toBe(2);
  });
});

describe('the prediction cache follows what was loaded (bug 8)', () => {
  test("after a same-version reload with new files, the same input gets the new model's answer", async () => {
    const root = await repo(['v1']);
    const server = await start({
      modelRepository: root,
      version: 'v1',
      args: ['--cache-max-entries', '1000', '--cache-ttl', '10m'],
      env: { WEIR_PREDICTOR_ADMIN_TOKEN: ADMIN },
    });
    const probe = rows.slice(0, 8);
    const v1 = await infer(server, probe);
    expect(await infer(server, probe)).toMatchObject({ status: 200, body: { outputs: v1.body.outputs } });
    expect(await metric(server, 'weir_predictor_cache_hits_total')).toBe(1);
    // The same version name, other weights: v3's model file copied over v1's.
    const dir = path.join(root, MODEL, 'v1');
    await copyFile(path.join(MODELS_DIR, MODEL, 'v3', 'model.onnx'), path.join(dir, 'model.onnx.new'));
    await rename(path.join(dir, 'model.onnx.new'), path.join(dir, 'model.onnx'));
    const loaded = await request(`${server.url}/v2/repository/models/${MODEL}/load`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    expect(loaded).toMatchObject({ status: 200, body: { version: 'v1', state: 'READY' } });
    const reference = await start({ modelRepository: MODELS_DIR, version: 'v3' });
    const expected = await infer(reference, probe, { headers: { 'cache-control': 'no-cache' } });
    const after = await infer(server, probe);
    expect(after.body.model_version).toBe('v1');
    expect(after.body.outputs).toEqual(expected.body.outputs);
    expect(after.body.outputs).not.toEqual(v1.body.outputs);
  });
});

describe('client mistakes are 4xx, never 5xx (bug 10) or silently wrong (bug 11)', () => {
  test('shapes that would allocate gigabytes, deep nesting, malformed escapes, and out-of-range numbers', async () => {
    const server = await start();
    const infer400 = async (body: unknown, error: RegExp | string) => {
      const reply = await request(`${server.url}/v2/models/${MODEL}/infer`, {
        raw: typeof body === 'string' ? body : JSON.stringify(body),
      });
      expect([reply.status, reply.body.error]).toEqual([
        400,
        typeof error === 'string' ? expect.stringContaining(error) : expect.stringMatching(error),
      ]);
    };
    const tensor = (shape: unknown, data: unknown, datatype = 'FP32') => ({
      inputs: [{ name: 'features', shape, datatype, data }],
    });
    await infer400(
      tensor([1e9, 9], [1]),
      'inputs[0].shape: [1000000000,9] has 9000000000 elements; one request may carry at most',
    );
    await infer400(tensor([2 ** 60, 9], [1]), 'is not a shape');
    await infer400(tensor([100_000_000, 9], [1]), 'has 900000000 elements; one request may carry at most');
    await infer400(
      tensor([1, 9], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
      'has at least 10 elements, but shape [1,9] needs 9',
    );
    // 10^5 nested arrays: JSON.parse takes it, the decoder must not recurse into it.
    const deep = `{"inputs":[{"name":"features","shape":[1,9],"datatype":"FP32","data":${'['.repeat(100_000)}${']'.repeat(100_000)}}]}`;
    await infer400(deep, /inputs\[0\]\.data\[0\]\[0\]: nested deeper than the shape allows \(2 levels/);
    await infer400(
      `{"inputs":[{"name":"features","shape":[1,9],"datatype":"FP32","data":[${'['.repeat(50_000)}1${']'.repeat(50_000)}]}]}`,
      'nested deeper',
    );
    await infer400(
      `{"inputs":{"deep":${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}}}`,
      'inputs: expected an array of input tensors, got an object',
    );
    await infer400(
      `{"id":${'['.repeat(50_000)}${']'.repeat(50_000)},"inputs":[]}`,
      'id: expected a string, got an array of 1',
    );
    await infer400(tensor([1, 9], [1e39, 0, 0, 0, 0, 0, 0, 0, 0]), 'inputs[0].data[0]: 1e+39 is beyond the FP32 range');
    await infer400(
      tensor([1, 9], [1e39, 0, 0, 0, 0, 0, 0, 0, 0], 'FP64'),
      'cannot be given to this model: its input is float32',
    );
    await infer400(
      tensor([1, 9], [1e20, 0, 0, 0, 0, 0, 0, 0, 0], 'INT64'),
      'inputs[0].data[0]: 100000000000000000000 is outside the INT64 range',
    );
    await infer400(tensor([1, 9], [2 ** 31, 0, 0, 0, 0, 0, 0, 0, 0], 'INT32'), 'outside the INT32 range');
    for (const target of [
      '/v2/models/%E0%A4%A/infer',
      `/v2/models/${MODEL}/versions/%E0%A4%A/infer`,
      '/v2/models/%E0%A4%A/ready',
      '/v2/models/%/feedback',
    ]) {
      const reply = await rawRequest(server.port, {
        target,
        method: target.endsWith('ready') ? 'GET' : 'POST',
        body: target.endsWith('ready') ? undefined : JSON.stringify(inferBody([rows[0]!])),
      });
      expect([target, reply.status, reply.json.error]).toEqual([
        target,
        400,
        expect.stringContaining('is not valid percent-encoding'),
      ]);
    }
    for (const target of ['http://127.0.0.1:1/v2/health/ready', '//127.0.0.1:1/v2'])
      expect((await rawRequest(server.port, { target })).status).toBe(400);
    expect(await metric(server, 'weir_predictor_requests_total', { code: '500' })).toBe(0);
    expect((await infer(server, [rows[0]!])).status).toBe(200);
  });

  test('aborted uploads are counted as aborts, not as 500s, and not logged once per abort', async () => {
    const server = await start();
    const body = JSON.stringify(inferBody(rows));
    for (let i = 0; i < 25; i++)
      await rawSocket(
        server.port,
        `POST /v2/models/${MODEL}/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body.slice(0, 40)}`,
        { closeAfterWrite: true, timeoutMs: 300 },
      );
    await waitFor(
      async () => (await metric(server, 'weir_predictor_client_aborts_total', { endpoint: 'infer' })) === 25,
      5000,
      '25 aborts counted',
    );
    expect(await metric(server, 'weir_predictor_requests_total', { code: '500' })).toBe(0);
    expect(server.logs.filter((l) => l.includes('"level":"error"'))).toEqual([]);
  });
});

describe('small ones (bug 12)', () => {
  test('a version must be one folder of the repository', async () => {
    for (const version of ['../../outside', '..', '.hidden', 'a/b', 'v1\\..\\x']) {
      const run = promisify(execFile)(process.execPath, [
        predictorEntry(),
        '--model-repository',
        MODELS_DIR,
        '--model',
        MODEL,
        '--version',
        version,
        '--port',
        '0',
      ]);
      const failed = (await run.catch((err: { code: number; stderr: string }) => err)) as {
        code: number;
        stderr: string;
      };
      expect([version, failed.code, failed.stderr]).toEqual([
        version,
        2,
        expect.stringContaining(`--version (WEIR_MODEL_VERSION): "${version}" is not a single folder name`),
      ]);
    }
    const model = (await promisify(execFile)(process.execPath, [
      predictorEntry(),
      '--model-repository',
      MODELS_DIR,
      '--model',
      '../models/price-direction',
      '--port',
      '0',
    ]).catch((err: { code: number; stderr: string }) => err)) as { code: number; stderr: string };
    expect(model.code).toBe(2);
  });

  test('the admin token needs the Bearer scheme', async () => {
    const server = await start({ env: { WEIR_PREDICTOR_ADMIN_TOKEN: ADMIN } });
    const index = (authorization: string) =>
      request(`${server.url}/v2/repository/index`, { method: 'POST', headers: { authorization } });
    expect((await index(ADMIN)).status).toBe(401);
    expect((await index(`Token ${ADMIN}`)).status).toBe(401);
    expect((await index(`Bearer ${ADMIN}x`)).status).toBe(401);
    expect((await index(`Bearer ${ADMIN}`)).status).toBe(200);
  });

  test('without --version, a vanished serving version is logged, counted and makes readiness false; no older version is loaded on its own', async () => {
    const root = await repo(['v1', 'v2']);
    const server = await start({
      modelRepository: root,
      version: undefined,
      args: ['--poll-interval', '200ms'],
      env: { WEIR_PREDICTOR_ADMIN_TOKEN: ADMIN },
    });
    expect((await infer(server, [rows[0]!])).body.model_version).toBe('v2');
    const parked = path.join(root, 'parked-v2');
    await rename(path.join(root, MODEL, 'v2'), parked);
    await waitFor(
      async () => (await request(`${server.url}/v2/health/ready`)).status === 503,
      10_000,
      'readiness to turn false',
    );
    expect((await request(`${server.url}/v2/health/ready`)).body).toEqual({
      ready: false,
      reason: expect.stringContaining('version v2 vanished from the repository'),
    });
    expect(await metric(server, 'weir_predictor_model_vanished_total', { version: 'v2' })).toBe(1);
    expect(await metric(server, 'weir_predictor_model_ready', { version: 'v2' })).toBe(0);
    expect(server.logs.some((l) => l.includes('the serving version vanished'))).toBe(true);
    // Still v2 from memory, never v1 behind the pod's label; and it stays so over several scans.
    await sleep(1000);
    expect((await infer(server, [rows[0]!], { headers: { 'cache-control': 'no-cache' } })).body.model_version).toBe(
      'v2',
    );
    // The files come back: ready again.
    await rename(parked, path.join(root, MODEL, 'v2'));
    await waitFor(
      async () => (await request(`${server.url}/v2/health/ready`)).status === 200,
      10_000,
      'readiness to return',
    );
    // Gone again, then an explicit load is the documented way to fall back.
    await rename(path.join(root, MODEL, 'v2'), parked);
    await waitFor(
      async () => (await request(`${server.url}/v2/health/ready`)).status === 503,
      10_000,
      'readiness to turn false again',
    );
    const loaded = await request(`${server.url}/v2/repository/models/${MODEL}/load`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    expect(loaded).toMatchObject({ status: 200, body: { version: 'v1' } });
    expect((await request(`${server.url}/v2/health/ready`)).status).toBe(200);
    expect(await metric(server, 'weir_predictor_model_vanished_total', { version: 'v2' })).toBe(2);
  });
});
