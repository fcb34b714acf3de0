// Starts an external server binary (Prometheus, Alertmanager) as a tracked
// child, waits until its readiness URL answers, and stops it with its folder.
import { spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { trackChild } from './children.js';
import { waitFor } from '../../../shared/wait.js';

export interface ReadyProcess {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts a server binary as a tracked child and waits until its readiness URL answers; stops it with its folder. */
export async function startReadyProcess(
  name: string,
  binary: string,
  args: string[],
  url: string,
  /** Removed when the process stops; undefined: nothing to remove. */
  dir: string | undefined,
  hint: string,
  /** Whether it is ready; default: its URL's /-/ready answers 2xx. */
  probe: () => Promise<boolean> = () =>
    fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    ),
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
    if (dir) await rm(dir, { recursive: true, force: true });
  };
  const ready = waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode}:\n${stderr}`);
      return probe();
    },
    30_000,
    `${name} to be ready`,
    200,
  ).catch((err: Error) => {
    throw new Error(`${err.message}:\n${stderr}`);
  });
  try {
    await Promise.race([ready, failed]);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, child, stop };
}
