// Version management and shutdown: hot reload under load, corrupt models, the
// repository API, and SIGTERM draining, against real predictor processes.
import { describe, expect, test } from '@jest/globals';
import { copyFile, cp, mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import type { PredictorProcess } from '../../controller/src/local/predictor-process.js';
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
import { sleep } from '../../shared/wait.js';

const start = predictorsPerTest();
const repo = scratchRepositoriesPerTest();

const rows = marketRows(64).map((r) => r.features);
const noCache = { 'cache-control': 'no-cache' };

/** Sends requests from `workers` loops until stopped; records every status and served version. */
function constantLoad(server: PredictorProcess, workers = 4) {
  const statuses: number[] = [];
  const versions = new Set<string>();
  let running = true;
  let i = 0;
  const loops = Array.from({ length: workers }, async () => {
    while (running) {
      const reply = await infer(server, [rows[i++ % rows.length]!], { headers: noCache }).catch(() => ({
        status: 0,
        body: {} as { model_version?: string },
      }));
      statuses.push(reply.status);
      if (reply.body.model_version) versions.add(reply.body.model_version);
    }
  });
  return {
    statuses,
    versions,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

describe('hot reload', () => {
  test('a new version appearing under constant load swaps in with zero non-2xx responses', async () => {
    const root = await repo(['v1']);
    const server = await start({ modelRepository: root, version: undefined, args: ['--poll-interval', '200ms'] });
    const load = constantLoad(server);
    await waitFor(() => load.statuses.length > 200, 10_000, 'load on v1');
    await cp(path.join(MODELS_DIR, MODEL, 'v2'), path.join(root, MODEL, 'v2'), { recursive: true });
    await waitFor(() => load.versions.has('v2'), 15_000, 'v2 to serve');
    const afterSwap = load.statuses.length;
    await waitFor(() => load.statuses.length > afterSwap + 200, 10_000, 'load on v2');
    await load.stop();
    expect(load.statuses.filter((s) => s < 200 || s >= 300)).toEqual([]);
    expect(load.statuses.length).toBeGreaterThan(400);
    expect([...load.versions].sort()).toEqual(['v1', 'v2']);
    expect((await request(`${server.url}/v2/models/${MODEL}`)).body.versions).toEqual(['v2']);
    expect(await metric(server, 'weir_predictor_model_loads_total', { version: 'v2', result: 'success' })).toBe(1);
    expect(await metric(server, 'weir_predictor_model_ready', { version: 'v1' })).toBe(0);
    expect(await metric(server, 'weir_predictor_model_ready', { version: 'v2' })).toBe(1);
  });

  test('a changed model file of the serving version is reloaded in place', async () => {
    const root = await repo(['v1']);
    const server = await start({
      modelRepository: root,
      version: 'v1',
      args: ['--poll-interval', '200ms', '--cache-max-entries', '0'],
    });
    const before = (await infer(server, [rows[0]!])).body.outputs[0].data[0];
    // Retrain v1 as an MLP: same version name, different weights.
    await copyFile(path.join(MODELS_DIR, MODEL, 'v2', 'model.onnx'), path.join(root, MODEL, 'v1', 'model.onnx'));
    const v2Answer = (await (async () => {
      const reference = await start({ version: 'v2' });
      return (await infer(reference, [rows[0]!])).body.outputs[0].data[0];
    })()) as number;
    expect(v2Answer).not.toBe(before);
    await waitFor(
      async () => (await infer(server, [rows[0]!])).body.outputs[0].data[0] === v2Answer,
      15_000,
      'the new v1 weights',
    );
    expect(await metric(server, 'weir_predictor_model_loads_total', { version: 'v1', result: 'success' })).toBe(2);
  });
});

describe('corrupt models never replace a working one', () => {
  test('a corrupt new version is logged and counted; the old version keeps serving', async () => {
    const root = await repo(['v1']);
    const server = await start({ modelRepository: root, version: undefined, args: ['--poll-interval', '200ms'] });
    const load = constantLoad(server, 2);
    await mkdir(path.join(root, MODEL, 'v9'));
    await writeFile(path.join(root, MODEL, 'v9', 'model.onnx'), 'this is not an onnx model');
    await waitFor(
      async () => (await metric(server, 'weir_predictor_model_loads_total', { version: 'v9', result: 'failure' })) >= 1,
      15_000,
      'the failed load to be counted',
    );
    await sleep(600); // several polls: not retried, still serving
    await load.stop();
    expect(await metric(server, 'weir_predictor_model_loads_total', { version: 'v9', result: 'failure' })).toBe(1);
    expect(load.statuses.filter((s) => s !== 200)).toEqual([]);
    expect([...load.versions]).toEqual(['v1']);
    expect((await request(`${server.url}/v2/health/ready`)).status).toBe(200);
    expect(
      server.logs.some(
        (line) =>
          line.includes('model load failed; the previous version keeps serving') && line.includes('"version":"v9"'),
      ),
    ).toBe(true);
  });

  test('the serving version overwritten with garbage keeps the loaded copy serving', async () => {
    const root = await repo(['v1']);
    const server = await start({ modelRepository: root, version: 'v1', args: ['--poll-interval', '200ms'] });
    await writeFile(path.join(root, MODEL, 'v1', 'model.onnx'), Buffer.from([0x08, 0xff, 0xff, 0x00, 0x13]));
    await waitFor(
      async () => (await metric(server, 'weir_predictor_model_loads_total', { version: 'v1', result: 'failure' })) >= 1,
      15_000,
      'the failed reload',
    );
    expect((await infer(server, [rows[0]!])).status).toBe(200);
  });

  test('a predictor whose only model is corrupt starts, reports not ready, and answers 503', async () => {
    const root = await repo([]);
    await mkdir(path.join(root, MODEL, 'v1'), { recursive: true });
    await writeFile(path.join(root, MODEL, 'v1', 'model.onnx'), 'garbage');
    const server = await start({ modelRepository: root, version: 'v1' });
    expect((await request(`${server.url}/v2/health/ready`)).status).toBe(503);
    expect((await request(`${server.url}/v2/health/live`)).status).toBe(200);
    const reply = await infer(server, [rows[0]!]);
    expect(reply.status).toBe(503);
    expect(reply.body.error).toContain('is not loaded');
  });
});

describe('repository API (Triton load/unload)', () => {
  test('needs the admin token; unload makes the model unavailable, load brings it back', async () => {
    const server = await start({ env: { WEIR_PREDICTOR_ADMIN_TOKEN: 'test-admin-token' } });
    const url = `${server.url}/v2/repository/models/${MODEL}`;
    expect((await request(`${url}/unload`, { method: 'POST' })).status).toBe(401);
    expect(
      (await request(`${url}/unload`, { method: 'POST', headers: { authorization: 'Bearer wrong-token-value' } }))
        .status,
    ).toBe(401);
    const auth = { authorization: 'Bearer test-admin-token' };
    expect((await request(`${url}/unload`, { method: 'POST', headers: auth })).body).toEqual({
      name: MODEL,
      state: 'UNAVAILABLE',
    });
    expect((await request(`${server.url}/v2/health/ready`)).status).toBe(503);
    expect((await infer(server, [rows[0]!])).status).toBe(503);
    expect((await request(`${url}/load`, { method: 'POST', headers: auth })).body).toEqual({
      name: MODEL,
      version: 'v1',
      state: 'READY',
    });
    expect((await infer(server, [rows[0]!])).status).toBe(200);
    expect((await request(`${server.url}/v2/repository/index`, { method: 'POST', headers: auth })).body).toContainEqual(
      { name: MODEL, version: 'v1', state: 'READY' },
    );
    expect(server.logs.join('\n')).not.toContain('test-admin-token');
  });

  test('is disabled without a token', async () => {
    const server = await start();
    const reply = await request(`${server.url}/v2/repository/models/${MODEL}/unload`, { method: 'POST' });
    expect(reply.status).toBe(403);
    expect(reply.body.error).toContain('start weir-predictor with --admin-token');
  });
});

describe('SIGTERM', () => {
  test('readiness drops, new connections are refused, in-flight requests finish, then the process exits 0', async () => {
    const server = await start();
    const body = JSON.stringify(inferBody([rows[0]!]));
    // An in-flight request: headers and half the body sent, the rest held back.
    const inFlight = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.request(
        `${server.url}/v2/models/${MODEL}/infer`,
        { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      req.write(body.slice(0, 20));
      setTimeout(() => {
        server.child.kill('SIGTERM');
        setTimeout(() => req.end(body.slice(20)), 700);
      }, 100);
    });
    // While the request is held open, the listener is closed: new connections are refused.
    await sleep(400);
    await expect(fetch(`${server.url}/v2/health/live`)).rejects.toThrow();
    expect(server.child.exitCode).toBeNull();
    const reply = await inFlight;
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.text).outputs).toHaveLength(2);
    expect(await server.exited).toBe(0);
    expect(server.logs.some((line) => line.includes('"msg":"drained"'))).toBe(true);
  });
});
