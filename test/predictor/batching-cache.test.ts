// Dynamic batching, the prediction cache and overload, against real predictor processes.
import { describe, expect, test } from '@jest/globals';
import path from 'node:path';
import { ortReference } from '../support/ort-reference.js';
import { MODEL, MODELS_DIR, infer, marketRows, metric, predictorsPerTest } from '../support/predictor.js';
import { sleep } from '../../shared/wait.js';

const start = predictorsPerTest();

const noCache = { 'cache-control': 'no-cache' };

describe('dynamic batching', () => {
  // v1 and v2 are cheap and run on the HTTP thread; v4 is costly and runs in a worker thread.
  test.each([
    ['v1', 'inline'],
    ['v2', 'inline'],
    ['v4', 'worker'],
  ])(
    '%s (%s): concurrent requests share runs, and every answer equals an unbatched run',
    async (version, placement) => {
      const server = await start({ version, args: ['--batch-delay', '25ms', '--max-batch-rows', '64'] });
      const rows = marketRows(48).map((r) => r.features);
      expect(server.logs.find((line) => line.includes('"msg":"model version serving"'))).toContain(
        `"placement":"${placement}"`,
      );
      const replies = await Promise.all(rows.map((row) => infer(server, [row], { headers: noCache })));
      expect(replies.every((r) => r.status === 200)).toBe(true);
      const runs = await metric(server, 'weir_predictor_batch_size_count', { version });
      const batchedRows = await metric(server, 'weir_predictor_batch_size_sum', { version });
      // Warm-up runs are not observed; 48 requests must have shared fewer than 48 runs.
      expect(batchedRows).toBe(48);
      expect(runs).toBeLessThan(24);
      const unbatched = ortReference(path.join(MODELS_DIR, MODEL, version, 'model.onnx'), rows, true);
      expect(replies.map((r) => r.body.outputs[0].data[0])).toEqual(unbatched.probability);
      expect(replies.map((r) => r.body.outputs[1].data[0])).toEqual(unbatched.label);
    },
  );

  test('a full queue answers 503 with Retry-After, and the server recovers', async () => {
    // v4 spends tens of milliseconds per run, so a burst overflows a queue of 2.
    const server = await start({ version: 'v4', args: ['--max-queue', '2', '--max-batch-rows', '1'] });
    const rows = marketRows(12).map((r) => r.features);
    const replies = await Promise.all(rows.map((row) => infer(server, [row], { headers: noCache })));
    const refused = replies.filter((r) => r.status === 503);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0]!.headers.get('retry-after')).toBe('1');
    expect(refused[0]!.body.error).toContain('overloaded: 2 requests are already queued (limit 2)');
    expect(replies.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(3);
    expect((await infer(server, [rows[0]!])).status).toBe(200);
  });
});

describe('prediction cache', () => {
  test('a repeated input is a hit, "Cache-Control: no-cache" bypasses it, and answers are the same', async () => {
    const server = await start();
    const row = marketRows(1)[0]!.features;
    const first = await infer(server, [row]);
    const second = await infer(server, [row]);
    expect(await metric(server, 'weir_predictor_cache_misses_total', { version: 'v1' })).toBe(1);
    expect(await metric(server, 'weir_predictor_cache_hits_total', { version: 'v1' })).toBe(1);
    expect(second.body.outputs).toEqual(first.body.outputs);
    expect(second.body.id).not.toBe(first.body.id);
    const bypassed = await infer(server, [row], { headers: noCache });
    expect(bypassed.body.outputs).toEqual(first.body.outputs);
    expect(await metric(server, 'weir_predictor_cache_hits_total', { version: 'v1' })).toBe(1);
    expect(await metric(server, 'weir_predictor_cache_entries', { version: 'v1' })).toBe(1);
  });

  test('entries expire after the TTL', async () => {
    const server = await start({ args: ['--cache-ttl', '200ms'] });
    const row = marketRows(1)[0]!.features;
    await infer(server, [row]);
    await sleep(400);
    await infer(server, [row]);
    expect(await metric(server, 'weir_predictor_cache_hits_total', { version: 'v1' })).toBe(0);
    expect(await metric(server, 'weir_predictor_cache_misses_total', { version: 'v1' })).toBe(2);
  });
});
