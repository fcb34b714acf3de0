// Starts a real Alertmanager on a free loopback port with its own storage and a
// configuration that groups by rollout; waits until it is ready.
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { startReadyProcess, type ReadyProcess } from './ready-process.js';
import { freePort } from './free-port.js';

export type AlertmanagerProcess = ReadyProcess;

export async function startAlertmanager(binary = process.env.WEIR_ALERTMANAGER ?? 'prometheus-alertmanager'): Promise<AlertmanagerProcess> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'weir-alertmanager-'));
  const port = await freePort();
  const config = { route: { receiver: 'log', group_by: ['rollout'], group_wait: '1s', group_interval: '5s', repeat_interval: '1h' }, receivers: [{ name: 'log' }] };
  await writeFile(path.join(dir, 'alertmanager.yml'), stringify(config));
  const args = [`--config.file=${path.join(dir, 'alertmanager.yml')}`, `--storage.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address=', '--log.level=warn'];
  return startReadyProcess('alertmanager', binary, args, `http://127.0.0.1:${port}`, dir, "install Alertmanager (make installs Debian's prometheus-alertmanager)");
}
