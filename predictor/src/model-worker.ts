// The worker thread that owns one ONNX Runtime session for a costly model.
// onnxruntime-node runs inference synchronously on the calling thread, so a
// model that takes milliseconds runs here and the HTTP thread stays free.
import { parentPort } from 'node:worker_threads';
import type * as ort from 'onnxruntime-node';
import {
  createSession,
  runSession,
  signatureOf,
  type OutputTensor,
  type RunRequest,
  type SessionSignature,
} from './session.js';

export type WorkerRequest =
  | { type: 'load'; bytes: Uint8Array; intraOpThreads: number }
  | ({ type: 'run'; id: number } & RunRequest)
  | { type: 'release' };

export type WorkerReply =
  | ({ type: 'loaded' } & SessionSignature)
  | { type: 'result'; id: number; outputs: OutputTensor[]; seconds: number }
  | { type: 'error'; id?: number; message: string };

let session: ort.InferenceSession | undefined;
const port = parentPort!;

port.on('message', (message: WorkerRequest) => {
  void handle(message).catch((err: unknown) => {
    port.postMessage({
      type: 'error',
      id: 'id' in message ? message.id : undefined,
      message: (err as Error).message,
    } satisfies WorkerReply);
  });
});

async function handle(message: WorkerRequest): Promise<void> {
  if (message.type === 'load') {
    session = await createSession(message.bytes, message.intraOpThreads);
    port.postMessage({ type: 'loaded', ...signatureOf(session) } satisfies WorkerReply);
    return;
  }
  if (message.type === 'release') {
    await session?.release();
    session = undefined;
    port.close();
    return;
  }
  if (!session) throw new Error('no model loaded in this worker');
  const { outputs, seconds } = await runSession(session, message);
  port.postMessage({ type: 'result', id: message.id, outputs, seconds } satisfies WorkerReply);
}
