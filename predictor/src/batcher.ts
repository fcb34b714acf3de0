// Dynamic batching: requests that arrive while a run is in flight (or within a
// configured delay) share the next ONNX Runtime run. At low load a request runs
// at once, so batching never adds latency when there is nothing to batch with.
import { RequestError } from '../../shared/errors.js';
import type { OutputTensor } from './model.js';
import type { InputArray } from './tensor.js';

export interface BatchRunner {
  /** `seconds` is the model's own compute time for the batch. */
  run(values: InputArray, rows: number): Promise<{ outputs: OutputTensor[]; seconds: number }>;
}

export interface BatcherOptions {
  /** Most rows one run takes; a single larger request still runs, alone. */
  maxBatchRows: number;
  /** How long the first queued request may wait for company when the runner is idle. 0 = never wait. */
  maxDelayMs: number;
  /** Requests that may wait; more are refused with 503 so latency stays bounded. */
  maxQueue: number;
  onBatch?: (rows: number, seconds: number) => void;
}

interface Pending {
  values: InputArray;
  rows: number;
  resolve: (outputs: OutputTensor[]) => void;
  reject: (err: unknown) => void;
}

/** Dynamic batching for one loaded model (see the module comment). */
export class Batcher {
  private readonly queue: Pending[] = [];
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly runner: BatchRunner,
    private readonly options: BatcherOptions,
  ) {}

  get depth(): number {
    return this.queue.length;
  }

  submit(values: InputArray, rows: number): Promise<OutputTensor[]> {
    if (this.queue.length >= this.options.maxQueue) {
      return Promise.reject(
        new RequestError(
          503,
          `overloaded: ${this.queue.length} requests are already queued (limit ${this.options.maxQueue}); retry shortly`,
          { 'retry-after': '1' },
        ),
      );
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ values, rows, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once nothing is queued or running. */
  idle(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.running || this.queue.length === 0) return;
    const queuedRows = this.queue.reduce((sum, p) => sum + p.rows, 0);
    if (this.options.maxDelayMs <= 0 || queuedRows >= this.options.maxBatchRows) {
      this.dispatch();
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.dispatch(), this.options.maxDelayMs);
    }
  }

  private dispatch(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.running || this.queue.length === 0) return;
    const batch: Pending[] = [this.queue.shift()!];
    let rows = batch[0]!.rows;
    while (this.queue.length > 0 && rows + this.queue[0]!.rows <= this.options.maxBatchRows) {
      const next = this.queue.shift()!;
      rows += next.rows;
      batch.push(next);
    }
    this.running = true;
    void this.execute(batch, rows);
  }

  private async execute(batch: Pending[], rows: number): Promise<void> {
    try {
      const values =
        batch.length === 1
          ? batch[0]!.values
          : concat(
              batch.map((p) => p.values),
              rows * (batch[0]!.values.length / batch[0]!.rows),
            );
      const { outputs, seconds } = await this.runner.run(values, rows);
      this.options.onBatch?.(rows, seconds);
      let offset = 0;
      for (const pending of batch) {
        pending.resolve(batch.length === 1 ? outputs : outputs.map((o) => sliceRows(o, offset, pending.rows)));
        offset += pending.rows;
      }
    } catch (err) {
      for (const pending of batch) pending.reject(err);
    } finally {
      this.running = false;
      if (this.queue.length > 0) this.dispatch();
      else for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }
}

function concat(parts: InputArray[], length: number): InputArray {
  const first = parts[0]!;
  const out = new (first.constructor as new (n: number) => InputArray)(length);
  let offset = 0;
  for (const part of parts) {
    (out as Float32Array).set(part as Float32Array, offset);
    offset += part.length;
  }
  return out;
}

/** The rows [start, start+count) of an output tensor. */
export function sliceRows(output: OutputTensor, start: number, count: number): OutputTensor {
  const data = output.data as Float32Array;
  return { ...output, data: data.subarray(start * output.perRow, (start + count) * output.perRow) };
}
