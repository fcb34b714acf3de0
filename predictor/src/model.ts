// One loaded model version: an ONNX Runtime session plus what the server needs
// to know about its input and outputs. Loading validates, then warms up.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import type { InputArray, InputSpec, ModelElementType } from './tensor.js';

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

const ORT_TO_OIP: Record<string, string> = {
  float32: 'FP32',
  float64: 'FP64',
  int32: 'INT32',
  int64: 'INT64',
  bool: 'BOOL',
  uint8: 'UINT8',
  int8: 'INT8',
  float16: 'FP16',
  string: 'BYTES',
};
const SUPPORTED_INPUT_TYPES: ModelElementType[] = ['float32', 'float64', 'int32', 'int64'];

export interface SessionOptions {
  intraOpThreads: number;
}

export class LoadedModel {
  private constructor(
    readonly name: string,
    readonly version: string,
    readonly metadata: ModelMetadata,
    readonly input: InputSpec,
    /** mtime and size of the files it was loaded from; a change means reload. */
    readonly fingerprint: string,
    private readonly session: ort.InferenceSession,
  ) {}

  /** Loads `<dir>/model.onnx` (and metadata.json when present), checks its signature and warms it up. */
  static async load(name: string, version: string, dir: string, options: SessionOptions, warmupRows: number): Promise<LoadedModel> {
    const modelPath = path.join(dir, MODEL_FILE);
    const fingerprint = await versionFingerprint(dir);
    const metadata = await readMetadata(dir);
    const bytes = await readFile(modelPath);
    const session = await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: options.intraOpThreads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
    });
    try {
      const input = describeInput(session, modelPath);
      const model = new LoadedModel(name, version, metadata, input, fingerprint, session);
      await model.warmUp(warmupRows);
      return model;
    } catch (err) {
      await session.release();
      throw err;
    }
  }

  /** Runs rows through the model and returns every output, shaped per row. */
  async run(values: InputArray, rows: number): Promise<OutputTensor[]> {
    const tensor = new ort.Tensor(this.input.elementType, values, [rows, this.input.width]);
    const results = await this.session.run({ [this.input.name]: tensor });
    return this.input.outputNames.map((outputName) => {
      const out = results[outputName]!;
      const perRow = out.dims.length <= 1 ? 1 : out.dims.slice(1).reduce((a, b) => a * b, 1);
      if (out.dims[0] !== rows) throw new Error(`output ${outputName} has shape [${out.dims}], expected ${rows} rows`);
      return { name: outputName, datatype: ORT_TO_OIP[out.type] ?? out.type.toUpperCase(), perRow, data: out.data as ArrayLike<number | bigint> };
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
    await this.session.release();
  }
}

function allocateZeros(type: ModelElementType, length: number): InputArray {
  if (type === 'float32') return new Float32Array(length);
  if (type === 'float64') return new Float64Array(length);
  if (type === 'int32') return new Int32Array(length);
  return new BigInt64Array(length);
}

function describeInput(session: ort.InferenceSession, modelPath: string): InputSpec {
  if (session.inputNames.length !== 1) {
    throw new Error(`${modelPath}: model has ${session.inputNames.length} inputs (${session.inputNames.join(', ')}); weir-predictor serves models with exactly one [N, F] input`);
  }
  const meta = session.inputMetadata[0];
  if (!meta || !meta.isTensor) throw new Error(`${modelPath}: input ${session.inputNames[0]} is not a tensor`);
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
