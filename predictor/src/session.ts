// ONNX Runtime session handling shared by both places a model can run: the
// HTTP thread (inline, for cheap models) and a worker thread (for costly ones).
import * as ort from 'onnxruntime-node';
import type { InputArray } from './tensor.js';

/** One output tensor of a run, or the slice of it that belongs to some rows. */
export interface OutputTensor {
  name: string;
  datatype: string;
  /** Elements per row (product of the dims after the first). */
  perRow: number;
  data: ArrayLike<number | bigint>;
}

export interface SessionSignature {
  inputNames: string[];
  outputNames: string[];
  inputs: { name: string; isTensor: boolean; type?: string; shape?: (number | string)[] }[];
}

export interface RunRequest {
  values: InputArray;
  rows: number;
  inputName: string;
  elementType: string;
  width: number;
  outputNames: string[];
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

/** An ONNX Runtime session from model bytes, with `intraOpThreads` threads per run. */
export function createSession(bytes: Uint8Array, intraOpThreads: number): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, {
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
}

export function signatureOf(session: ort.InferenceSession): SessionSignature {
  const inputs = session.inputMetadata.map((m) =>
    m.isTensor
      ? { name: m.name, isTensor: true, type: m.type, shape: [...m.shape] }
      : { name: m.name, isTensor: false },
  );
  return { inputNames: [...session.inputNames], outputNames: [...session.outputNames], inputs };
}

/** Runs one batch; `seconds` is ONNX Runtime's own time, without any thread hop. */
export async function runSession(
  session: ort.InferenceSession,
  request: RunRequest,
): Promise<{ outputs: OutputTensor[]; seconds: number }> {
  const tensor = new ort.Tensor(request.elementType as 'float32', request.values as Float32Array, [
    request.rows,
    request.width,
  ]);
  const started = performance.now();
  const results = await session.run({ [request.inputName]: tensor });
  const seconds = (performance.now() - started) / 1000;
  const outputs = request.outputNames.map((name) => {
    const out = results[name]!;
    if (out.dims[0] !== request.rows)
      throw new Error(`output ${name} has shape [${out.dims}], expected ${request.rows} rows`);
    const perRow = out.dims.length <= 1 ? 1 : out.dims.slice(1).reduce((a, b) => a * b, 1);
    return {
      name,
      datatype: ORT_TO_OIP[out.type] ?? out.type.toUpperCase(),
      perRow,
      data: out.data as ArrayLike<number | bigint>,
    };
  });
  return { outputs, seconds };
}
