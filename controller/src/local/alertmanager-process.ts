// Starts a real Alertmanager on a free loopback port with its own storage and a
// configuration that groups by rollout; waits until it is ready.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { trackChild } from './children.js';
import { freePort } from './free-port.js';

export interface AlertmanagerProcess {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export async function startAlertmanager(binary = process.env.WEIR_ALERTMANAGER ?? 'prometheus-alertmanager'): Promise<AlertmanagerProcess> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'weir-alertmanager-'));
  const port = await freePort();
  const config = { route: { receiver: 'log', group_by: ['rollout'], group_wait: '1s', group_interval: '5s', repeat_interval: '1h' }, receivers: [{ name: 'log' }] };
  await writeFile(path.join(dir, 'alertmanager.yml'), stringify(config));
  const child = trackChild(spawn(binary, [`--config.file=${path.join(dir, 'alertmanager.yml')}`, `--storage.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address=', '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] }));
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const failed = new Promise<never>((_, reject) => child.once('error', (err) => reject(new Error(`cannot start ${binary}: ${(err as NodeJS.ErrnoException).code ?? err.message}`))));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  const ready = (async () => {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`alertmanager exited with code ${child.exitCode}:\n${stderr}`);
      if (await fetch(`${url}/-/ready`).then((r) => r.ok, () => false)) return;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`alertmanager was not ready within 30 s:\n${stderr}`);
  })();
  try {
    await Promise.race([ready, failed]);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, child, stop };
}
