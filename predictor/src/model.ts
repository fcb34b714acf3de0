// One loaded model version: an ONNX Runtime session in its own worker thread,
// plus what the server needs to know about its input and outputs. Loading
// validates the signature, then warms up.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { InputArray, InputSpec, ModelElementType } from './tensor.js';
import type { WorkerReply, WorkerRequest } from './model-worker.js';

export const MODEL_FILE = 'model.onnx';
export const METADATA_FILE = 'metadata.json';

/** One output tensor of a run, or the slice of it that belongs to some rows. */
export interface OutputTensor {
  name: string;
  datatype: string;
  /** Elements per row (product of the dims after the first). */
  perRow: number;
  data: ArrayLike<number | bigint>;
}

export interface ModelMetadata {
  features?: string[];
  holdoutAccuracy?: number;
  description?: string;
  [key: string]: unknown;
}

const SUPPORTED_INPUT_TYPES: ModelElementType[] = ['float32', 'float64', 'int32', 'int64'];

export interface SessionOptions {
  intraOpThreads: number;
}

export class LoadedModel {
  private readonly pending = new Map<number, { resolve: (outputs: OutputTensor[]) => void; reject: (err: Error) => void }>();
  private nextId = 0;
  private failure: Error | undefined;

  private constructor(
    readonly name: string,
    readonly version: string,
    readonly metadata: ModelMetadata,
    readonly input: InputSpec,
    /** mtime and size of the files it was loaded from; a change means reload. */
    readonly fingerprint: string,
    private readonly worker: Worker,
  ) {
    worker.on('message', (reply: WorkerReply) => {
      if (reply.type === 'loaded' || reply.id === undefined) return;
      const waiter = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (reply.type === 'result') waiter?.resolve(reply.outputs);
      else waiter?.reject(new Error(reply.message));
    });
    const fail = (err: Error) => {
      this.failure = err;
      for (const waiter of this.pending.values()) waiter.reject(err);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`inference worker for ${name} ${version} exited (code ${code})`)));
  }

  /** Loads `<dir>/model.onnx` (and metadata.json when present), checks its signature and warms it up. */
  static async load(name: string, version: string, dir: string, options: SessionOptions, warmupRows: number): Promise<LoadedModel> {
    const modelPath = path.join(dir, MODEL_FILE);
    const fingerprint = await versionFingerprint(dir);
    const metadata = await readMetadata(dir);
    const bytes = await readFile(modelPath);
    const worker = new Worker(new URL('./model-worker.js', import.meta.url));
    try {
      const loaded = await new Promise<Extract<WorkerReply, { type: 'loaded' }>>((resolve, reject) => {
        worker.once('message', (reply: WorkerReply) => (reply.type === 'loaded' ? resolve(reply) : reject(new Error(`${modelPath}: ${reply.type === 'error' ? reply.message : 'unexpected reply'}`))));
        worker.once('error', reject);
        worker.postMessage({ type: 'load', bytes, intraOpThreads: options.intraOpThreads } satisfies WorkerRequest);
      });
      const model = new LoadedModel(name, version, metadata, describeInput(loaded, modelPath), fingerprint, worker);
      await model.warmUp(warmupRows);
      return model;
    } catch (err) {
      await worker.terminate();
      throw err;
    }
  }

  /** Runs rows through the model and returns every output, shaped per row. */
  run(values: InputArray, rows: number): Promise<OutputTensor[]> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const { name: inputName, elementType, width, outputNames } = this.input;
      this.worker.postMessage({ type: 'run', id, values, rows, inputName, elementType, width, outputNames: [...outputNames] } satisfies WorkerRequest);
    });
  }

  /** One run of a single row and one of a larger batch, so the first real request is not the slow one. */
  private async warmUp(rows: number): Promise<void> {
    for (const count of [1, Math.max(1, rows)]) {
      const values = allocateZeros(this.input.elementType, count * this.input.width);
      const outputs = await this.run(values, count);
      if (outputs.length === 0) throw new Error('model produced no outputs');
    }
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

function allocateZeros(type: ModelElementType, length: number): InputArray {
  if (type === 'float32') return new Float32Array(length);
  if (type === 'float64') return new Float64Array(length);
  if (type === 'int32') return new Int32Array(length);
  return new BigInt64Array(length);
}

function describeInput(session: Extract<WorkerReply, { type: 'loaded' }>, modelPath: string): InputSpec {
  if (session.inputNames.length !== 1) {
    throw new Error(`${modelPath}: model has ${session.inputNames.length} inputs (${session.inputNames.join(', ')}); weir-predictor serves models with exactly one [N, F] input`);
  }
  const meta = session.inputs[0];
  if (!meta || !meta.isTensor || !meta.shape) throw new Error(`${modelPath}: input ${session.inputNames[0]} is not a tensor`);
  const type = meta.type as ModelElementType;
  if (!SUPPORTED_INPUT_TYPES.includes(type)) throw new Error(`${modelPath}: input type ${meta.type} is not supported; expected one of ${SUPPORTED_INPUT_TYPES.join(', ')}`);
  const width = meta.shape[1];
  if (meta.shape.length !== 2 || typeof width !== 'number' || width < 1) {
    throw new Error(`${modelPath}: input shape [${meta.shape.join(', ')}] is not [N, F] with a fixed F`);
  }
  return { name: meta.name, width, elementType: type, outputNames: [...session.outputNames] };
}

async function readMetadata(dir: string): Promise<ModelMetadata> {
  let text: string;
  try {
    text = await readFile(path.join(dir, METADATA_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`${path.join(dir, METADATA_FILE)}: expected a JSON object`);
  return parsed as ModelMetadata;
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
