import { describe, expect, test } from '@jest/globals';
import { Batcher, type BatchRunner } from './batcher.js';
import { RequestError } from '../../shared/errors.js';
import type { OutputTensor } from './model.js';
import type { InputArray } from './tensor.js';
import { sleep } from '../../shared/wait.js';

/** A runner that doubles each value, records batch sizes, and finishes only when told to. */
function controlledRunner() {
  const batches: number[] = [];
  const finishers: (() => void)[] = [];
  const runner: BatchRunner = {
    run(values: InputArray, rows: number) {
      batches.push(rows);
      return new Promise<{ outputs: OutputTensor[]; seconds: number }>((resolve) => {
        finishers.push(() =>
          resolve({
            outputs: [
              {
                name: 'out',
                datatype: 'FP32',
                perRow: 2,
                data: Float32Array.from(values as Float32Array, (v) => v * 2),
              },
            ],
            seconds: 0.001,
          }),
        );
      });
    },
  };
  return { runner, batches, finish: () => finishers.shift()?.() };
}

const row = (...values: number[]) => Float32Array.from(values);
const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('Batcher', () => {
  test('runs a lone request at once, and batches requests that arrive while busy', async () => {
    const { runner, batches, finish } = controlledRunner();
    const batcher = new Batcher(runner, { maxBatchRows: 8, maxDelayMs: 0, maxQueue: 10 });
    const first = batcher.submit(row(1, 2), 1);
    expect(batches).toEqual([1]);
    const second = batcher.submit(row(3, 4), 1);
    const third = batcher.submit(row(5, 6, 7, 8), 2);
    expect(batcher.depth).toBe(2);
    finish();
    await flush();
    expect(batches).toEqual([1, 3]);
    finish();
    const outputs = await Promise.all([first, second, third]);
    expect(outputs.map((o) => Array.from(o[0]!.data as Float32Array))).toEqual([
      [2, 4],
      [6, 8],
      [10, 12, 14, 16],
    ]);
    await batcher.idle();
  });

  test('never puts more than maxBatchRows rows in one run, but runs an oversized request alone', async () => {
    const { runner, batches, finish } = controlledRunner();
    const batcher = new Batcher(runner, { maxBatchRows: 3, maxDelayMs: 0, maxQueue: 10 });
    const all = [
      batcher.submit(row(0, 0), 1),
      batcher.submit(row(0, 0, 0, 0), 2),
      batcher.submit(row(0, 0, 0, 0), 2),
      batcher.submit(new Float32Array(10), 5),
    ];
    for (let i = 0; i < 4; i++) {
      finish();
      await flush();
    }
    await Promise.all(all);
    expect(batches).toEqual([1, 2, 2, 5]);
  });

  test('with a delay, waits for company before the first run', async () => {
    const { runner, batches, finish } = controlledRunner();
    const batcher = new Batcher(runner, { maxBatchRows: 8, maxDelayMs: 20, maxQueue: 10 });
    const both = [batcher.submit(row(1, 1), 1), batcher.submit(row(2, 2), 1)];
    expect(batches).toEqual([]);
    await sleep(40);
    expect(batches).toEqual([2]);
    finish();
    await Promise.all(both);
  });

  test('refuses with 503 when the queue is full', async () => {
    const { runner, finish } = controlledRunner();
    const batcher = new Batcher(runner, { maxBatchRows: 1, maxDelayMs: 0, maxQueue: 1 });
    const running = batcher.submit(row(1, 1), 1);
    const queued = batcher.submit(row(1, 1), 1);
    await expect(batcher.submit(row(1, 1), 1)).rejects.toMatchObject({ status: 503, constructor: RequestError });
    finish();
    await flush();
    finish();
    await Promise.all([running, queued]);
  });

  test('a failed run rejects every request in its batch and the next batch still runs', async () => {
    let calls = 0;
    const runner: BatchRunner = {
      async run(values: InputArray) {
        calls++;
        if (calls === 1) throw new Error('boom');
        return {
          outputs: [{ name: 'out', datatype: 'FP32', perRow: 1, data: values as Float32Array }],
          seconds: 0.001,
        };
      },
    };
    const batcher = new Batcher(runner, { maxBatchRows: 8, maxDelayMs: 0, maxQueue: 10 });
    await expect(batcher.submit(row(1), 1)).rejects.toThrow('boom');
    await expect(batcher.submit(row(2), 1)).resolves.toHaveLength(1);
  });
});
