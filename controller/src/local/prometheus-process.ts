// Starts a real Prometheus on a free loopback port with its own data folder and
// scrape configuration, and waits until it is ready. Local mode and tests use it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { trackChild } from './children.js';
import { freePort } from './free-port.js';

export interface ScrapeTarget {
  job: string;
  targets: string[];
  metricsPath?: string;
}

export interface PrometheusProcess {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export async function startPrometheus(options: { targets: ScrapeTarget[]; scrapeInterval?: string; binary?: string; ruleFiles?: string[]; alertmanagerUrl?: string }): Promise<PrometheusProcess> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'weir-prometheus-'));
  const port = await freePort();
  const config = {
    global: { scrape_interval: options.scrapeInterval ?? '1s', evaluation_interval: options.scrapeInterval ?? '1s' },
    ...(options.ruleFiles ? { rule_files: options.ruleFiles } : {}),
    ...(options.alertmanagerUrl ? { alerting: { alertmanagers: [{ static_configs: [{ targets: [new URL(options.alertmanagerUrl).host] }] }] } } : {}),
    scrape_configs: options.targets.map((t) => ({ job_name: t.job, metrics_path: t.metricsPath ?? '/metrics', static_configs: [{ targets: t.targets }] })),
  };
  await writeFile(path.join(dir, 'prometheus.yml'), stringify(config));
  const binary = options.binary ?? process.env.WEIR_PROMETHEUS ?? 'prometheus';
  const child = trackChild(spawn(binary, [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--web.enable-lifecycle', '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] }));
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const spawnError = new Promise<never>((_, reject) => child.once('error', (err) => reject(new Error(`cannot start ${binary}: ${(err as NodeJS.ErrnoException).code ?? err.message}; install Prometheus (make installs Debian's package)`))));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  const ready = (async () => {
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`prometheus exited with code ${child.exitCode}:\n${stderr}`);
      const ok = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
      if (ok) return;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`prometheus was not ready within 30 s:\n${stderr}`);
  })();
  try {
    await Promise.race([ready, spawnError]);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, child, stop };
}
