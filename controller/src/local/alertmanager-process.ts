// Starts a real Alertmanager on a free loopback port with its own storage and a
// configuration that groups by rollout; waits until it is ready.
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { startReadyProcess, type ReadyProcess } from './ready-process.js';
import { freePort } from './free-port.js';

export type AlertmanagerProcess = ReadyProcess;

/** Starts a real Alertmanager on a free loopback port (optionally with a webhook receiver) and waits until it is ready. */
export async function startAlertmanager(
  options: { binary?: string; port?: number; webhook?: { url: string; token: string } } = {},
): Promise<AlertmanagerProcess> {
  const binary = options.binary ?? process.env.WEIR_ALERTMANAGER ?? 'prometheus-alertmanager';
  const dir = await mkdtemp(path.join(os.tmpdir(), 'weir-alertmanager-'));
  const port = options.port ?? (await freePort());
  const receiver = options.webhook
    ? {
        name: 'log',
        webhook_configs: [
          {
            url: options.webhook.url,
            send_resolved: true,
            http_config: { authorization: { type: 'Bearer', credentials: options.webhook.token } },
          },
        ],
      }
    : { name: 'log' };
  const config = {
    route: { receiver: 'log', group_by: ['rollout'], group_wait: '1s', group_interval: '5s', repeat_interval: '1h' },
    receivers: [receiver],
  };
  await writeFile(path.join(dir, 'alertmanager.yml'), stringify(config));
  const args = [
    `--config.file=${path.join(dir, 'alertmanager.yml')}`,
    `--storage.path=${path.join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--cluster.listen-address=',
    '--log.level=warn',
  ];
  return startReadyProcess(
    'alertmanager',
    binary,
    args,
    `http://127.0.0.1:${port}`,
    dir,
    "install Alertmanager (make installs Debian's prometheus-alertmanager)",
  );
}
