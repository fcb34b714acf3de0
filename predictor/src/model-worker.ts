// The worker thread that owns one ONNX Runtime session. onnxruntime-node runs
// inference synchronously on the calling thread, so running it here keeps the
// HTTP event loop free: health checks and parsing go on while a batch computes.
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { InputArray } from './tensor.js';
import type { OutputTensor } from './model.js';

export type WorkerRequest =
  | { type: 'load'; bytes: Uint8Array; intraOpThreads: number }
  | { type: 'run'; id: number; values: InputArray; rows: number; inputName: string; elementType: string; width: number; outputNames: string[] }
  | { type: 'release' };

export type WorkerReply =
  | { type: 'loaded'; inputNames: string[]; outputNames: string[]; inputs: { name: string; isTensor: boolean; type?: string; shape?: (number | string)[] }[] }
  | { type: 'result'; id: number; outputs: OutputTensor[] }
  | { type: 'error'; id?: number; message: string };

const ORT_TO_OIP: Record<string, string> = { float32: 'FP32', float64: 'FP64', int32: 'INT32', int64: 'INT64', bool: 'BOOL', uint8: 'UINT8', int8: 'INT8', float16: 'FP16', string: 'BYTES' };

let session: ort.InferenceSession | undefined;
const port = parentPort!;

port.on('message', (message: WorkerRequest) => {
  void handle(message).catch((err: unknown) => {
    port.postMessage({ type: 'error', id: 'id' in message ? message.id : undefined, message: (err as Error).message } satisfies WorkerReply);
  });
});

async function handle(message: WorkerRequest): Promise<void> {
  if (message.type === 'load') {
    session = await ort.InferenceSession.create(message.bytes, { intraOpNumThreads: message.intraOpThreads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
    const inputs = session.inputMetadata.map((m) => (m.isTensor ? { name: m.name, isTensor: true, type: m.type, shape: [...m.shape] } : { name: m.name, isTensor: false }));
    port.postMessage({ type: 'loaded', inputNames: [...session.inputNames], outputNames: [...session.outputNames], inputs } satisfies WorkerReply);
    return;
  }
  if (message.type === 'release') {
    await session?.release();
    session = undefined;
    port.close();
    return;
  }
  if (!session) throw new Error('no model loaded in this worker');
  const tensor = new ort.Tensor(message.elementType as 'float32', message.values as Float32Array, [message.rows, message.width]);
  const results = await session.run({ [message.inputName]: tensor });
  const outputs = message.outputNames.map((name) => {
    const out = results[name]!;
    if (out.dims[0] !== message.rows) throw new Error(`output ${name} has shape [${out.dims}], expected ${message.rows} rows`);
    const perRow = out.dims.length <= 1 ? 1 : out.dims.slice(1).reduce((a, b) => a * b, 1);
    return { name, datatype: ORT_TO_OIP[out.type] ?? out.type.toUpperCase(), perRow, data: out.data as ArrayLike<number | bigint> };
  });
  port.postMessage({ type: 'result', id: message.id, outputs } satisfies WorkerReply);
}
