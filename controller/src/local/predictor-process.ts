// Starts a weir-predictor as a child process on a loopback port and waits until
// it serves. Local mode, the demo and the integration tests all use this.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../../shared/paths.js';
import { trackChild } from './children.js';

/** The built predictor entry point, dist/predictor/src/main.js. */
export function predictorEntry(): string {
  const entry = path.join(packageRoot(), 'dist', 'predictor', 'src', 'main.js');
  if (!existsSync(entry)) throw new Error(`${entry} is missing; run 'make build' first`);
  return entry;
}

export interface PredictorProcessOptions {
  modelRepository: string;
  model: string;
  version?: string;
  args?: string[];
  env?: Record<string, string>;
  /** Every stdout line (JSON logs) is passed here. */
  onLog?: (line: string) => void;
  startTimeoutMs?: number;
}

export interface PredictorProcess {
  url: string;
  port: number;
  child: ChildProcess;
  /** Log lines seen so far. */
  logs: string[];
  /** SIGTERM, then wait for exit; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

/** Starts a weir-predictor process on a free loopback port and resolves once it listens. */
export async function startPredictor(options: PredictorProcessOptions): Promise<PredictorProcess> {
  const args = [
    predictorEntry(),
    '--model-repository',
    options.modelRepository,
    '--model',
    options.model,
    '--host',
    '127.0.0.1',
    '--port',
    '0',
  ];
  if (options.version) args.push('--version', options.version);
  args.push(...(options.args ?? []));
  const child = trackChild(
    spawn(process.execPath, args, { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  const logs: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const listening = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new Error(
            `weir-predictor did not start within ${options.startTimeoutMs ?? 30000} ms\n${logs.join('\n')}\n${stderr}`,
          ),
        ),
      options.startTimeoutMs ?? 30000,
    );
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        logs.push(line);
        options.onLog?.(line);
        try {
          const record = JSON.parse(line) as { msg?: string; port?: number };
          if (record.msg === 'listening' && typeof record.port === 'number') {
            clearTimeout(timer);
            resolve(record.port);
          }
        } catch {
          // not a JSON line; keep it in logs
        }
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`weir-predictor exited with code ${code} before listening\n${logs.join('\n')}\n${stderr}`));
    });
  });
  let port: number;
  try {
    port = await listening;
  } catch (err) {
    // Never leave a half-started predictor running behind a failed start.
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    throw err;
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    child,
    logs,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
