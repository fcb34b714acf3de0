// Starts an external server binary (Prometheus, Alertmanager) as a tracked
// child, waits until its readiness URL answers, and stops it with its folder.
import { spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { trackChild } from './children.js';
import { sleep } from '../../../shared/wait.js';

export interface ReadyProcess {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export async function startReadyProcess(
  name: string,
  binary: string,
  args: string[],
  url: string,
  dir: string,
  hint: string,
): Promise<ReadyProcess> {
  const child = trackChild(spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] }));
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const failed = new Promise<never>((_, reject) =>
    child.once('error', (err) =>
      reject(new Error(`cannot start ${binary}: ${(err as NodeJS.ErrnoException).code ?? err.message}; ${hint}`)),
    ),
  );
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  const ready = (async () => {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode}:\n${stderr}`);
      if (
        await fetch(`${url}/-/ready`).then(
          (r) => r.ok,
          () => false,
        )
      )
        return;
      await sleep(200);
    }
    throw new Error(`${name} was not ready within 30 s:\n${stderr}`);
  })();
  try {
    await Promise.race([ready, failed]);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, child, stop };
}
