// Open Inference Protocol v2 conformance and bad-input handling, against a real
// weir-predictor process serving the committed v1 model.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import path from 'node:path';
import type { PredictorProcess } from '../../controller/src/local/predictor-process.js';
import { ortReference } from '../support/ort-reference.js';
import { MODEL, MODELS_DIR, infer, inferBody, marketRows, predictor, request } from '../support/predictor.js';

let server: PredictorProcess;
const rows = marketRows(8).map((r) => r.features);

beforeAll(async () => {
  server = await predictor({ args: ['--max-body-bytes', '4096'] });
});
afterAll(async () => {
  await server.stop();
});

describe('server and model metadata', () => {
  test('health, server metadata, model metadata and readiness', async () => {
    expect((await request(`${server.url}/v2/health/live`)).body).toEqual({ live: true });
    expect((await request(`${server.url}/v2/health/ready`)).status).toBe(200);
    expect((await request(`${server.url}/v2`)).body).toMatchObject({
      name: 'weir-predictor',
      extensions: expect.arrayContaining(['model_repository']),
    });
    const meta = await request(`${server.url}/v2/models/${MODEL}`);
    expect(meta.body).toMatchObject({
      name: MODEL,
      versions: ['v1'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 9] }],
      outputs: [
        { name: 'probability', datatype: 'FP32' },
        { name: 'label', datatype: 'INT64' },
      ],
    });
    expect((await request(`${server.url}/v2/models/${MODEL}/versions/v1`)).status).toBe(200);
    expect((await request(`${server.url}/v2/models/${MODEL}/ready`)).body).toMatchObject({ ready: true });
    expect((await request(`${server.url}/v2/models/${MODEL}/versions/v1/ready`)).status).toBe(200);
    expect((await request(`${server.url}/v2/models/${MODEL}/versions/v2/ready`)).status).toBe(503);
  });
});

describe('infer', () => {
  test('a batch of rows answers exactly what ONNX Runtime computes in-process', async () => {
    const reply = await infer(server, rows, { headers: { 'cache-control': 'no-cache' }, extra: { id: 'req-1' } });
    expect(reply.status).toBe(200);
    const expected = ortReference(path.join(MODELS_DIR, MODEL, 'v1', 'model.onnx'), rows);
    expect(reply.body).toEqual({
      model_name: MODEL,
      model_version: 'v1',
      id: 'req-1',
      outputs: [
        { name: 'probability', datatype: 'FP32', shape: [8], data: expected.probability },
        { name: 'label', datatype: 'INT64', shape: [8], data: expected.label },
      ],
    });
  });

  test('flat, nested, [F]-shaped, versioned-path and FP64 requests agree', async () => {
    const single = [rows[0]!];
    const base = (await infer(server, single)).body.outputs;
    const nested = await request(`${server.url}/v2/models/${MODEL}/infer`, {
      body: { inputs: [{ name: 'features', shape: [1, 9], datatype: 'FP32', data: [rows[0]] }] },
    });
    const oneDim = await request(`${server.url}/v2/models/${MODEL}/infer`, {
      body: { inputs: [{ name: 'features', shape: [9], datatype: 'FP32', data: rows[0] }] },
    });
    const versioned = await infer(server, single, { path: `/v2/models/${MODEL}/versions/v1/infer` });
    const fp64 = await request(`${server.url}/v2/models/${MODEL}/infer`, {
      body: { inputs: [{ name: 'features', shape: [1, 9], datatype: 'FP64', data: rows[0] }] },
    });
    for (const reply of [nested, oneDim, versioned, fp64]) {
      expect(reply.status).toBe(200);
      expect(reply.body.outputs).toEqual(base);
    }
  });

  test("INT32 and INT64 inputs are converted to the model's FP32", async () => {
    const ints = [[0, 0, 0, 0, 0, 0, 1, 0, 0]];
    const asFloat = (await infer(server, ints)).body.outputs;
    for (const datatype of ['INT32', 'INT64']) {
      const reply = await request(`${server.url}/v2/models/${MODEL}/infer`, {
        body: { inputs: [{ name: 'features', shape: [1, 9], datatype, data: ints[0] }] },
      });
      expect(reply.status).toBe(200);
      expect(reply.body.outputs).toEqual(asFloat);
    }
  });

  test('the client may ask for only some outputs', async () => {
    const reply = await infer(server, [rows[1]!], { extra: { outputs: [{ name: 'label' }] } });
    expect(reply.body.outputs.map((o: { name: string }) => o.name)).toEqual(['label']);
  });

  test('without an id, each response gets a fresh one', async () => {
    const [a, b] = await Promise.all([infer(server, [rows[2]!]), infer(server, [rows[2]!])]);
    expect(a.body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.body.id).not.toBe(b.body.id);
  });
});

describe('bad requests get a clear error and the server keeps serving', () => {
  const good = inferBody([rows[0]!]);
  const cases: [string, { raw?: string; body?: unknown; method?: string; path?: string }, number, string][] = [
    ['invalid JSON', { raw: '{"inputs": [' }, 400, 'request body: invalid JSON'],
    ['an empty body', { raw: '' }, 400, 'request body: empty'],
    ['missing inputs', { body: {} }, 400, 'inputs: expected an array'],
    [
      'the wrong shape',
      { body: { inputs: [{ name: 'features', shape: [1, 8], datatype: 'FP32', data: [1, 2, 3, 4, 5, 6, 7, 8] }] } },
      400,
      'inputs[0].shape: [1,8] has 8 features per row; the model expects [N, 9]',
    ],
    [
      'an unsupported datatype',
      { body: { inputs: [{ name: 'features', shape: [1, 9], datatype: 'BYTES', data: ['a'] }] } },
      400,
      'inputs[0].datatype: BYTES is not supported',
    ],
    [
      'a short data list',
      { body: { inputs: [{ name: 'features', shape: [2, 9], datatype: 'FP32', data: rows[0] }] } },
      400,
      'inputs[0].data: has 9 elements, but shape [2,9] needs 18',
    ],
    [
      'a non-number',
      {
        body: {
          inputs: [{ name: 'features', shape: [1, 9], datatype: 'FP32', data: [...rows[0]!.slice(0, 8), 'NaN'] }],
        },
      },
      400,
      'inputs[0].data[8]: "NaN" is not a number',
    ],
    [
      'a wrong input name',
      { body: { inputs: [{ name: 'x', shape: [1, 9], datatype: 'FP32', data: rows[0] }] } },
      400,
      'inputs[0].name: unknown input "x"',
    ],
    ['an unknown model', { body: good, path: '/v2/models/nope/infer' }, 404, 'model "nope" not found'],
    [
      'an unknown version',
      { body: good, path: `/v2/models/${MODEL}/versions/v9/infer` },
      404,
      'version "v9" of "price-direction" is not served here; serving: v1',
    ],
    ['an unknown path', { body: good, path: '/v3/anything' }, 404, 'no route for POST /v3/anything'],
    ['the wrong method', { method: 'GET', path: `/v2/models/${MODEL}/infer` }, 405, 'GET is not allowed'],
    [
      'a body over the limit',
      { body: inferBody(Array.from({ length: 100 }, () => rows[0]!)) },
      413,
      'larger than the limit of 4096 bytes',
    ],
  ];
  test.each(cases)('%s', async (_name, call, status, message) => {
    const reply = await request(`${server.url}${call.path ?? `/v2/models/${MODEL}/infer`}`, {
      method: call.method,
      body: call.body,
      raw: call.raw,
    });
    expect(reply.status).toBe(status);
    expect(reply.body.error).toContain(message);
    const after = await infer(server, [rows[0]!]);
    expect(after.status).toBe(200);
  });

  test('a body over the limit sent without content-length (chunked) is cut off with 413', async () => {
    const big = JSON.stringify(inferBody(Array.from({ length: 100 }, () => rows[0]!)));
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(big));
        controller.close();
      },
    });
    const response = await fetch(`${server.url}/v2/models/${MODEL}/infer`, {
      method: 'POST',
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: string }).error).toContain('more than the limit of 4096 bytes');
    expect((await infer(server, [rows[0]!])).status).toBe(200);
  });

  test('errors are counted by code in /metrics', async () => {
    const text = (await request(`${server.url}/metrics`)).body as string;
    expect(text).toMatch(/weir_predictor_requests_total\{[^}]*endpoint="infer",code="400"[^}]*\} [1-9]/);
    expect(text).toMatch(/weir_predictor_requests_total\{[^}]*endpoint="infer",code="413"[^}]*\} [1-9]/);
    // Process metrics carry the model and the serving version too.
    expect(text).toMatch(/weir_predictor_process_cpu_user_seconds_total\{model="price-direction",version="v1"\}/);
  });
});
