// One loaded model version: an ONNX Runtime session plus what the server needs
// to know about its input and outputs. Every version loads and warms up in a
// worker thread, timed there; a cheap model then moves to the HTTP thread
// (no thread hop, which would cost more than the model), a costly one stays in
// the worker so it never blocks the HTTP thread.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type * as ort from 'onnxruntime-node';
import type { InputArray, InputSpec, ModelElementType } from './tensor.js';
import type { WorkerReply, WorkerRequest } from './model-worker.js';
import { taskOf, type ModelTask } from './task.js';
import { createSession, runSession, type OutputTensor, type RunRequest, type SessionSignature } from './session.js';

export type { OutputTensor } from './session.js';

export const MODEL_FILE = 'model.onnx';
export const METADATA_FILE = 'metadata.json';

export interface ModelMetadata {
  features?: string[];
  holdoutAccuracy?: number;
  description?: string;
  [key: string]: unknown;
}

const SUPPORTED_INPUT_TYPES: ModelElementType[] = ['float32', 'float64', 'int32', 'int64'];

export interface SessionOptions {
  intraOpThreads: number;
  /** A model whose median full warm-up batch takes at most this long runs on the HTTP thread. 0 = always a worker. */
  inlineMaxRunMs: number;
}

export type Placement = 'inline' | 'worker';

/** Where runs happen: the HTTP thread or a worker thread. */
interface Executor {
  readonly placement: Placement;
  run(request: RunRequest): Promise<{ outputs: OutputTensor[]; seconds: number }>;
  release(): Promise<void>;
}

class InlineExecutor implements Executor {
  readonly placement = 'inline';
  constructor(private readonly session: ort.InferenceSession) {}
  run(request: RunRequest) {
    return runSession(this.session, request);
  }
  release() {
    return this.session.release();
  }
}

class WorkerExecutor implements Executor {
  readonly placement = 'worker';
  private readonly pending = new Map<
    number,
    { resolve: (result: { outputs: OutputTensor[]; seconds: number }) => void; reject: (err: Error) => void }
  >();
  private nextId = 0;
  private failure: Error | undefined;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (reply: WorkerReply) => {
      if (reply.type === 'loaded' || reply.id === undefined) return;
      const waiter = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (reply.type === 'result') waiter?.resolve(reply);
      else waiter?.reject(new Error(reply.message));
    });
    const fail = (err: Error) => {
      this.failure = err;
      for (const waiter of this.pending.values()) waiter.reject(err);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`inference worker exited (code ${code})`)));
  }

  static async start(
    bytes: Uint8Array,
    intraOpThreads: number,
    modelPath: string,
  ): Promise<{ executor: WorkerExecutor; signature: SessionSignature }> {
    const worker = new Worker(new URL('./model-worker.js', import.meta.url));
    try {
      const signature = await new Promise<SessionSignature>((resolve, reject) => {
        worker.once('message', (reply: WorkerReply) =>
          reply.type === 'loaded'
            ? resolve(reply)
            : reject(new Error(`${modelPath}: ${reply.type === 'error' ? reply.message : 'unexpected reply'}`)),
        );
        worker.once('error', reject);
        worker.postMessage({ type: 'load', bytes, intraOpThreads } satisfies WorkerRequest);
      });
      return { executor: new WorkerExecutor(worker), signature };
    } catch (err) {
      await worker.terminate();
      throw err;
    }
  }

  run(request: RunRequest): Promise<{ outputs: OutputTensor[]; seconds: number }> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ type: 'run', id, ...request } satisfies WorkerRequest);
    });
  }

  async release(): Promise<void> {
    this.worker.postMessage({ type: 'release' } satisfies WorkerRequest);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => void this.worker.terminate().then(() => resolve()), 2000);
      this.worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

/** Counts loads in this process, so every loaded model has its own identity. */
let loads = 0;

/** One loaded, warmed-up model version (see the module comment). */
export class LoadedModel {
  /** Unique per load (version and load number): what a cached answer belongs to. */
  readonly loadId = `${++loads}`;
  /** What the model predicts (classification or regression), from its metadata. */

  private constructor(
    readonly name: string,
    readonly version: string,
    readonly metadata: ModelMetadata,
    /** Classification (with its classes) or regression, from the metadata. */
    readonly task: ModelTask,
    readonly input: InputSpec,
    /** mtime and size of the files it was loaded from; a change means reload. */
    readonly fingerprint: string,
    private executor: Executor,
    /** ONNX Runtime's median time for a full warm-up batch, in ms. */
    readonly warmupRunMs: number,
  ) {}

  get placement(): Placement {
    return this.executor.placement;
  }

  /** Loads `<dir>/model.onnx` (and metadata.json when present), checks its signature, warms it up and places it. */
  static async load(
    name: string,
    version: string,
    dir: string,
    options: SessionOptions,
    warmupRows: number,
  ): Promise<LoadedModel> {
    const modelPath = path.join(dir, MODEL_FILE);
    const fingerprint = await versionFingerprint(dir);
    const { metadata, task } = await readMetadata(dir);
    const bytes = await readFile(modelPath);
    const { executor, signature } = await WorkerExecutor.start(bytes, options.intraOpThreads, modelPath);
    let model: LoadedModel | undefined;
    try {
      model = new LoadedModel(
        name,
        version,
        metadata,
        task,
        describeInput(signature, modelPath),
        fingerprint,
        executor,
        0,
      );
      const typical = await model.warmUp(warmupRows);
      if (typical > options.inlineMaxRunMs)
        return new LoadedModel(name, version, metadata, task, model.input, fingerprint, executor, typical);
      const inline = new LoadedModel(
        name,
        version,
        metadata,
        task,
        model.input,
        fingerprint,
        new InlineExecutor(await createSession(bytes, options.intraOpThreads)),
        typical,
      );
      await executor.release();
      await inline.warmUp(warmupRows);
      return inline;
    } catch (err) {
      await executor.release().catch(() => undefined);
      throw err;
    }
  }

  /** Runs rows through the model and returns every output, shaped per row, with ONNX Runtime's own time. */
  run(values: InputArray, rows: number): Promise<{ outputs: OutputTensor[]; seconds: number }> {
    const { name: inputName, elementType, width, outputNames } = this.input;
    return this.executor.run({ values, rows, inputName, elementType, width, outputNames: [...outputNames] });
  }

  /**
   * Runs of one row and of full batches, so the first real request is not the
   * slow one. Returns the median full-batch run in ms: the first runs pay for
   * one-time allocations, and placement must not hinge on them.
   */
  private async warmUp(rows: number): Promise<number> {
    const batch = Math.max(1, rows);
    const times: number[] = [];
    for (const count of [1, 1, batch, batch, batch, batch, batch]) {
      const { outputs, seconds } = await this.run(
        allocateZeros(this.input.elementType, count * this.input.width),
        count,
      );
      if (outputs.length === 0) throw new Error('model produced no outputs');
      if (count === batch) times.push(seconds * 1000);
    }
    return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
  }

  release(): Promise<void> {
    return this.executor.release();
  }
}

function allocateZeros(type: ModelElementType, length: number): InputArray {
  if (type === 'float32') return new Float32Array(length);
  if (type === 'float64') return new Float64Array(length);
  if (type === 'int32') return new Int32Array(length);
  return new BigInt64Array(length);
}

function describeInput(session: SessionSignature, modelPath: string): InputSpec {
  if (session.inputNames.length !== 1) {
    throw new Error(
      `${modelPath}: model has ${session.inputNames.length} inputs (${session.inputNames.join(', ')}); weir-predictor serves models with exactly one [N, F] input`,
    );
  }
  const meta = session.inputs[0];
  if (!meta || !meta.isTensor || !meta.shape)
    throw new Error(`${modelPath}: input ${session.inputNames[0]} is not a tensor`);
  const type = meta.type as ModelElementType;
  if (!SUPPORTED_INPUT_TYPES.includes(type))
    throw new Error(
      `${modelPath}: input type ${meta.type} is not supported; expected one of ${SUPPORTED_INPUT_TYPES.join(', ')}`,
    );
  const width = meta.shape[1];
  if (meta.shape.length !== 2 || typeof width !== 'number' || width < 1) {
    throw new Error(`${modelPath}: input shape [${meta.shape.join(', ')}] is not [N, F] with a fixed F`);
  }
  return { name: meta.name, width, elementType: type, outputNames: [...session.outputNames] };
}

/** metadata.json (none: {}) and the task it declares; a bad task fails the load here, before a session is made. */
async function readMetadata(dir: string): Promise<{ metadata: ModelMetadata; task: ModelTask }> {
  const file = path.join(dir, METADATA_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { metadata: {}, task: taskOf({}, file) };
    throw err;
  }
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new Error(`${file}: expected a JSON object`);
  const metadata = parsed as ModelMetadata;
  return { metadata, task: taskOf(metadata, file) };
}

/** Identifies the bytes on disk of a version cheaply: mtime and size of its files. */
export async function versionFingerprint(dir: string): Promise<string> {
  const parts: string[] = [];
  for (const file of [MODEL_FILE, METADATA_FILE]) {
    try {
      const info = await stat(path.join(dir, file));
      parts.push(`${file}:${info.size}:${info.mtimeMs}`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      parts.push(`${file}:missing`);
    }
  }
  return parts.join('|');
}
