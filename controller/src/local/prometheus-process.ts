// Starts a real Prometheus on a free loopback port with its own data folder and
// scrape configuration, and waits until it is ready. Local mode and tests use it.
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { startReadyProcess, type ReadyProcess } from './ready-process.js';
import { freePort } from './free-port.js';

export interface ScrapeTarget {
  job: string;
  targets: string[];
  metricsPath?: string;
  /** Labels on every series of these targets, as Kubernetes discovery adds namespace. */
  labels?: Record<string, string>;
}

export type PrometheusProcess = ReadyProcess;

/** Starts a real Prometheus scraping `targets` every second (by default) and waits until it is ready. */
export async function startPrometheus(options: {
  targets: ScrapeTarget[];
  scrapeInterval?: string;
  binary?: string;
  ruleFiles?: string[];
  alertmanagerUrl?: string;
}): Promise<PrometheusProcess> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'weir-prometheus-'));
  const port = await freePort();
  const config = {
    global: { scrape_interval: options.scrapeInterval ?? '1s', evaluation_interval: options.scrapeInterval ?? '1s' },
    ...(options.ruleFiles ? { rule_files: options.ruleFiles } : {}),
    ...(options.alertmanagerUrl
      ? { alerting: { alertmanagers: [{ static_configs: [{ targets: [new URL(options.alertmanagerUrl).host] }] }] } }
      : {}),
    scrape_configs: options.targets.map((t) => ({
      job_name: t.job,
      metrics_path: t.metricsPath ?? '/metrics',
      static_configs: [{ targets: t.targets, ...(t.labels ? { labels: t.labels } : {}) }],
    })),
  };
  await writeFile(path.join(dir, 'prometheus.yml'), stringify(config));
  const binary = options.binary ?? process.env.WEIR_PROMETHEUS ?? 'prometheus';
  const args = [
    `--config.file=${path.join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${path.join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--web.enable-lifecycle',
    '--log.level=warn',
  ];
  return startReadyProcess(
    'prometheus',
    binary,
    args,
    `http://127.0.0.1:${port}`,
    dir,
    "install Prometheus (make installs Debian's package)",
  );
}
