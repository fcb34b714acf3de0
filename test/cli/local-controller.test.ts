// `weir controller --local` as a process with the local gateway, driven by the
// local CLI commands: it starts the rollout, holds while Prometheus is
// unreachable, and obeys `weir abort`, recording who gave it.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { createLogger } from '../../shared/log.js';
import { demoRolloutYaml } from '../../controller/src/local/demo/rollout-spec.js';
import { Gateway } from '../../controller/src/local/gateway/server.js';
import { weightsOf } from '../../controller/src/local/gateway/routes.js';
import { packageRoot } from '../../shared/paths.js';
import { FileRolloutStore } from '../../controller/src/providers/file/store.js';
import { waitFor } from '../support/predictor.js';
import { sleep } from '../../shared/wait.js';
import { runWeir } from '../support/cli.js';
import { aRouteTable } from '../support/fixtures.js';

const TOKEN = 'controller-test-token-0123456789';
const weir = path.join(packageRoot(), 'bin', 'weir.js');
let dir: string;
let gateway: Gateway;
let controller: ChildProcess;
let logs = '';
let port = 0;

const cli = async (...args: string[]) => {
  const result = await runWeir(args);
  expect([result.code, result.stderr]).toEqual([0, '']);
  return result.stdout;
};

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'weir-local-'));
  await writeFile(path.join(dir, 'price-direction.yaml'), demoRolloutYaml('v2'));
  gateway = new Gateway(
    {
      table: aRouteTable(),
      backends: {},
      service: 'predictor',
      token: TOKEN,
    },
    createLogger('gateway', 'error'),
  );
  const ports = await gateway.listen(0, 0);
  controller = spawn(
    process.execPath,
    [
      weir,
      'controller',
      '--local',
      dir,
      '--prometheus',
      'http://127.0.0.1:9',
      '--gateway',
      `http://127.0.0.1:${ports.adminPort}`,
    ],
    { env: { ...process.env, WEIR_GATEWAY_TOKEN: TOKEN }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  controller.stdout!.on('data', (c: Buffer) => (logs += c.toString()));
  controller.stderr!.on('data', (c: Buffer) => (logs += c.toString()));
  await waitFor(() => /"msg":"listening","port":(\d+)/.test(logs), 15_000, 'the controller to listen');
  port = Number(/"msg":"listening","port":(\d+)/.exec(logs)![1]);
});
afterAll(async () => {
  if (controller.exitCode === null) controller.kill('SIGKILL');
  await gateway.close();
  await rm(dir, { recursive: true, force: true });
});

describe('weir controller --local', () => {
  test('starts the rollout at 10%, holds on nodata, obeys weir abort, and shuts down cleanly', async () => {
    const store = new FileRolloutStore(dir);
    await waitFor(
      async () => (await store.get('price-direction')).rollout.status!.phase === 'Progressing',
      15_000,
      'the rollout to start',
    );
    await waitFor(() => weightsOf(gateway.routes, 'primary').v2 === 10, 10_000, 'the gateway at 10%');
    // Prometheus is unreachable: every metric is nodata, so it holds at 10%.
    await sleep(5000);
    const held = (await store.get('price-direction')).rollout.status!;
    expect(held.canaryWeight).toBe(10);
    expect(held.analysis.filter((r) => r.verdict === 'nodata').length).toBeGreaterThan(0);
    expect(await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()).toEqual({ ok: true });
    expect(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).toMatch(
      /weir_controller_reconciles_total\{rollout="price-direction",result="ok"\} [1-9]/,
    );

    expect(await cli('get', 'rollouts', '--local', dir)).toMatch(
      /price-direction\s+price-direction\s+v1\s+v2\s+Progressing\s+10%/,
    );
    expect(await cli('abort', 'price-direction', '--local', dir, '--as', 'carol@example.com')).toContain(
      'abort recorded for price-direction (Progressing, canary 10%) by carol@example.com',
    );
    await waitFor(
      async () => (await store.get('price-direction')).rollout.status!.phase === 'RolledBack',
      15_000,
      'the rollback',
    );
    await waitFor(() => weightsOf(gateway.routes, 'primary').v2 === 0, 10_000, 'the gateway at 0%');
    const history = JSON.parse(await cli('history', 'price-direction', '--local', dir, '--json')) as {
      action: string;
      by?: string;
    }[];
    expect(history.at(-1)).toMatchObject({ action: 'rollback', by: 'carol@example.com' });
    expect(await cli('status', 'price-direction', '--local', dir)).toContain('price-direction: RolledBack');

    controller.kill('SIGTERM');
    const code = await new Promise((resolve) => controller.once('exit', (c) => resolve(c)));
    expect(code).toBe(0);
  }, 60_000);
});
