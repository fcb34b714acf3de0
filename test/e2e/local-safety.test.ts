// Local mode end to end (issue 11, bugs 1, 4 and 6): `weir controller --local`
// as a process, real predictors behind the local gateway, and a real
// Prometheus that scrapes the controller. A guardrail on the canary weight the
// controller itself exports rolls `bad` back at 50%: as the bug was reported.
//   1. Nothing gives the rolled-back canary traffic again: no command (CLI,
//      queued in the file, Alertmanager's webhook twice), no edit of the
//      gateway, no restart. Requests through the gateway never reach it.
//   4. A file that is not YAML and a rollout with a malformed status sit in
//      the same folder: they are reported, left as they are, and block nothing.
//   6. With the folder read-only for the controller, an abort still takes
//      traffic off the canary at once, across a kill -9, and status catches up
//      with the original author once the folder is writable again.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { createLogger } from '../../shared/log.js';
import { freePort } from '../../controller/src/local/free-port.js';
import { Gateway } from '../../controller/src/local/gateway/server.js';
import { parseRouteTable, weightsOf } from '../../controller/src/local/gateway/routes.js';

import { startPredictor, type PredictorProcess } from '../../controller/src/local/predictor-process.js';
import { packageRoot } from '../../shared/paths.js';
import { startPrometheus, type PrometheusProcess } from '../../controller/src/local/prometheus-process.js';
import { FileRolloutStore } from '../../controller/src/providers/file/store.js';
import { MODEL, MODELS_DIR, inferBody, marketRows, waitFor } from '../support/predictor.js';
import { startController, type ControllerProcess } from '../support/controller-process.js';
import { sleep } from '../../shared/wait.js';
import { runWeir } from '../support/cli.js';
import { metricAt } from '../support/metrics.js';

const TOKEN = 'local-safety-gateway-token-01234';
const WEBHOOK = 'local-safety-webhook-token-01234';
const weir = path.join(packageRoot(), 'bin', 'weir.js');
let dir: string;
let gateway: Gateway;
let ports: { port: number; adminPort: number };
let prometheus: PrometheusProcess;
let controllerPort: number;
let controller: ControllerProcess;
const predictors: PredictorProcess[] = [];
const store = () => new FileRolloutStore(dir);
const row = marketRows(1)[0]!.features;

/** `weir ARGS` in local mode; resolves with its exit code and output, whatever the code. */
const cli = (...args: string[]) => runWeir([...args, '--local', dir]);

const rollout = (
  name: string,
  route: string,
  canary: string,
  strategy: Record<string, unknown>,
  guardrails: unknown[] = [],
) => ({
  apiVersion: 'weir.dev/v1alpha1',
  kind: 'ModelRollout',
  metadata: { name },
  spec: {
    model: MODEL,
    virtualService: { name: 'predictor', route },
    stable: { version: 'v1' },
    canary: { version: canary },
    strategy: { minSamplesPerStage: 0, maxDuration: '10m', ...strategy },
    analysis: { interval: '1s', guardrails },
    notifications: { abortOnAlert: ['ModelAccuracyDegraded'] },
  },
});

const controllerArgs = () => [
  '--local',
  dir,
  '--prometheus',
  prometheus.url,
  '--gateway',
  `http://127.0.0.1:${ports.adminPort}`,
  '--port',
  String(controllerPort),
];
const launch = () =>
  startController(controllerArgs(), {
    env: { WEIR_GATEWAY_TOKEN: TOKEN, WEIR_WEBHOOK_TOKEN: WEBHOOK },
    withoutDacOverride: true,
  });
const canaryOf = (route: string, version: string) => weightsOf(gateway.routes, route)[version] ?? 0;
const controllerMetric = (name: string, where: Record<string, string> = {}) =>
  metricAt(`http://127.0.0.1:${controllerPort}/metrics`, name, where);

/** Watches a route's canary weight every 10 ms and sends predictions through the gateway, until stopped. */
function watch(route: string, version: string, header: Record<string, string> = {}) {
  const seen = { maxWeight: 0, served: {} as Record<string, number> };
  let running = true;
  const poll = (async () => {
    while (running) {
      seen.maxWeight = Math.max(seen.maxWeight, canaryOf(route, version));
      await sleep(10);
    }
  })();
  const traffic = (async () => {
    while (running) {
      const response = await fetch(`http://127.0.0.1:${ports.port}/v2/models/${MODEL}/infer`, {
        method: 'POST',
        headers: { 'cache-control': 'no-cache', ...header },
        body: JSON.stringify(inferBody([row])),
      });
      const served = ((await response.json()) as { model_version?: string }).model_version ?? `HTTP ${response.status}`;
      seen.served[served] = (seen.served[served] ?? 0) + 1;
    }
  })();
  return {
    seen,
    async stop() {
      running = false;
      await Promise.all([poll, traffic]);
      return seen;
    },
  };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'weir-local-safety-'));
  // `bad`: rolled back by a guardrail the moment Prometheus sees it at 50% (its own exported weight).
  await writeFile(
    path.join(dir, 'bad.yaml'),
    stringify(
      rollout('bad', 'primary', 'v3', { steps: [10, 25, 50, 100], minStageDuration: '3s' }, [
        { name: 'weight-below-40', query: 'max(weir_rollout_canary_weight{rollout="bad"})', max: 40, failureLimit: 1 },
      ]),
    ),
  );
  // `held`: waits at 50% for an approval that never comes.
  await writeFile(
    path.join(dir, 'held.yaml'),
    stringify(rollout('held', 'second', 'v2', { steps: [10, 50, 100], minStageDuration: '1s', approvals: [100] })),
  );
  // Bug 4: a file that is not YAML, and a rollout whose status someone broke.
  await writeFile(path.join(dir, 'broken.yaml'), 'apiVersion: weir.dev/v1alpha1\nkind: ModelRollout\nspec: [oops\n');
  await writeFile(
    path.join(dir, 'bogus.yaml'),
    stringify({
      ...rollout('bogus', 'third', 'v2', { steps: [10, 100] }),
      status: {
        phase: 'Bogus',
        stage: 1,
        canaryWeight: 0,
        history: [
          {
            stepId: 'a1-s1-rolledback',
            action: 'rollback',
            stage: 1,
            canaryWeight: 0,
            at: '2026-11-22T00:00:00Z',
            summary: 'rolled back earlier',
          },
        ],
      },
    }),
  );
  for (const version of ['v1', 'v2', 'v3'])
    predictors.push(
      await startPredictor({
        modelRepository: MODELS_DIR,
        model: MODEL,
        version,
        args: ['--cache-max-entries', '0', '--log-level', 'warn'],
      }),
    );
  const [v1, v2, v3] = predictors.map((p) => p.url);
  const route = (name: string, canary: string, match?: string) => ({
    name,
    ...(match ? { match: [{ headers: { 'x-rollout': { exact: match } } }] } : {}),
    route: [
      { destination: { host: 'predictor', subset: 'v1' }, weight: 100 },
      { destination: { host: 'predictor', subset: canary }, weight: 0 },
    ],
  });
  gateway = new Gateway(
    {
      table: parseRouteTable({
        http: [route('second', 'v2', 'second'), route('third', 'v2', 'third'), route('primary', 'v3')],
      }),
      backends: { v1: [v1!], v2: [v2!], v3: [v3!] },
      service: 'predictor',
      token: TOKEN,
    },
    createLogger('gateway', 'error'),
  );
  ports = await gateway.listen(0, 0);
  controllerPort = await freePort();
  prometheus = await startPrometheus({
    targets: [{ job: 'weir-controller', targets: [`127.0.0.1:${controllerPort}`] }],
  });
  controller = await launch();
}, 90_000);

afterAll(async () => {
  await controller?.stop('SIGKILL');
  await gateway?.close();
  await Promise.all([prometheus?.stop(), ...predictors.map((p) => p.stop())]);
  if (dir) {
    await chmod(dir, 0o755).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
});

describe('local mode: a rollback sticks, bad files block nothing, a read-only store still rolls back', () => {
  test('bug 4: the invalid files are reported and left alone while the others run', async () => {
    await waitFor(
      async () => (await store().get('held')).rollout.status!.phase === 'AwaitingApproval',
      30_000,
      'held to wait at 50%',
    );
    expect(canaryOf('second', 'v2')).toBe(50);
    await waitFor(
      async () => (await store().get('bad')).rollout.status!.phase === 'RolledBack',
      45_000,
      'bad to roll back',
    );
    const bad = (await store().get('bad')).rollout.status!;
    expect(bad.history.map((h) => [h.action, h.canaryWeight])).toEqual([
      ['advance', 10],
      ['advance', 25],
      ['advance', 50],
      ['rollback', 0],
    ]);
    expect(bad.message).toContain('guardrail weight-below-40 failed');
    expect(canaryOf('primary', 'v3')).toBe(0);

    expect((await fetch(`http://127.0.0.1:${controllerPort}/readyz`)).status).toBe(200);
    const listed = await cli('get', 'rollouts');
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^bogus\s+-\s+-\s+-\s+Invalid/m);
    expect(listed.stdout).toMatch(/^broken\s+-\s+-\s+-\s+Invalid/m);
    expect(listed.stdout).toMatch(/^held\s+price-direction\s+v1\s+v2\s+AwaitingApproval\s+50%/m);
    expect(listed.stdout).toContain('invalid bogus: ');
    expect(listed.stdout).toMatch(/invalid bogus: .*malformed status, left as it is: status\.phase: "Bogus"/);
    expect(listed.stdout).toMatch(/invalid broken: .*not YAML/);
    expect(await controllerMetric('weir_controller_invalid_rollouts', { rollout: 'broken' })).toBe(1);
    expect(await controllerMetric('weir_controller_invalid_rollouts', { rollout: 'bogus' })).toBe(1);
    // Reported once each, not every round.
    expect(
      controller
        .records('rollout is invalid; skipping it until it is fixed (the others carry on)')
        .map((r) => r.rollout)
        .sort(),
    ).toEqual(['bogus', 'broken']);
    // The malformed status is left exactly as it was: not reset to a fresh rollout at stage 0.
    expect(
      (parse(await readFile(path.join(dir, 'bogus.yaml'), 'utf8')) as { status: { phase: string } }).status.phase,
    ).toBe('Bogus');
    expect(canaryOf('third', 'v2')).toBe(0);
  }, 90_000);

  test('bug 1: no command, queued command, webhook, edit or restart gives the rolled-back canary traffic again', async () => {
    const before = (await store().get('bad')).rollout.status!;
    const watching = watch('primary', 'v3');
    for (const args of [['approve'], ['pause'], ['resume'], ['promote'], ['promote', '--full'], ['abort']]) {
      const result = await cli(args[0]!, 'bad', ...args.slice(1), '--as', 'mallory@example.com');
      expect([args.join(' '), result.code, result.stderr]).toEqual([
        args.join(' '),
        4,
        expect.stringContaining('bad: refused: the rollout is RolledBack'),
      ]);
    }
    // Commands queued before the rollback (as a racing CLI would leave them): the controller refuses them.
    const file = path.join(dir, 'bad.yaml');
    const doc = parse(await readFile(file, 'utf8')) as { commands?: unknown[]; revision: number };
    doc.commands = [
      { id: 'queued-approve', type: 'approve', by: 'queued@example.com', at: '2026-11-23T00:00:00Z' },
      { id: 'queued-full', type: 'promote', full: true, by: 'queued@example.com', at: '2026-11-23T00:00:01Z' },
    ];
    doc.revision += 1;
    await writeFile(file, stringify(doc));
    // Alertmanager fires twice, 49 ms apart.
    const webhook = () =>
      fetch(`http://127.0.0.1:${controllerPort}/alertmanager/webhook`, {
        method: 'POST',
        headers: { authorization: `Bearer ${WEBHOOK}` },
        body: JSON.stringify({
          alerts: [{ status: 'firing', labels: { alertname: 'ModelAccuracyDegraded', version: 'v3' } }],
        }),
      });
    const first = await webhook();
    await sleep(49);
    const second = await webhook();
    expect([await first.json(), await second.json()]).toEqual([{ aborted: [] }, { aborted: [] }]);
    await waitFor(
      async () => (await store().get('bad')).commands.length === 0,
      10_000,
      'the queued commands to be consumed',
    );
    await sleep(3000);
    const seen = await watching.stop();
    expect(seen.maxWeight).toBe(0);
    expect(seen.served.v3 ?? 0).toBe(0);
    expect(seen.served.v1).toBeGreaterThan(20);
    const after = (await store().get('bad')).rollout.status!;
    expect(after).toMatchObject({
      phase: 'RolledBack',
      canaryWeight: 0,
      lastStepId: before.lastStepId,
      history: before.history,
    });
    expect(after.refusedCommands.map((r) => `${r.type} by ${r.by}`)).toEqual([
      'approve by mallory@example.com',
      'pause by mallory@example.com',
      'resume by mallory@example.com',
      'promote by mallory@example.com',
      'promote by mallory@example.com',
      'abort by mallory@example.com',
      'approve by queued@example.com',
      'promote by queued@example.com',
    ]);
    expect((await cli('status', 'bad')).stdout).toContain('refused: promote by queued@example.com');

    // Someone sets the gateway to 50/50 by hand: the next rounds put it back.
    const put = await fetch(`http://127.0.0.1:${ports.adminPort}/routes/primary/weights`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ weights: { v1: 50, v3: 50 } }),
    });
    expect(put.status).toBe(200);
    await waitFor(() => canaryOf('primary', 'v3') === 0, 5000, 'the route back at 0%');

    // A restart changes nothing.
    expect(await controller.stop('SIGTERM')).toBe(0);
    controller = await launch();
    const afterRestart = watch('primary', 'v3');
    await sleep(3000);
    expect((await afterRestart.stop()).maxWeight).toBe(0);
    expect((await store().get('bad')).rollout.status!.history).toEqual(before.history);
  }, 90_000);

  test('bug 6: with the store read-only, an abort takes traffic off the canary at once, across a kill -9; status catches up later', async () => {
    expect((await store().get('held')).rollout.status!.phase).toBe('AwaitingApproval');
    expect(canaryOf('second', 'v2')).toBe(50);
    const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml'));
    const frozen = await readFile(path.join(dir, 'held.yaml'), 'utf8');
    try {
      await chmod(dir, 0o555);
      for (const f of files) await chmod(path.join(dir, f), 0o444);
      // The CLI runs as the test's user, which may still write; the controller may not.
      const abort = await promisify(execFile)(process.execPath, [
        weir,
        'abort',
        'held',
        '--local',
        dir,
        '--as',
        'carol@example.com',
      ]);
      expect(abort.stdout).toContain('abort recorded for held');
      const abortedFile = await readFile(path.join(dir, 'held.yaml'), 'utf8');
      await waitFor(() => canaryOf('second', 'v2') === 0, 5000, 'the canary at 0% although status cannot be written');
      const watching = watch('second', 'v2', { 'x-rollout': 'second' });
      await waitFor(
        () => controller.records('status write failed').some((r) => r.rollout === 'held'),
        5000,
        'a failed status write',
      );
      expect(String(controller.records('status write failed').find((r) => r.rollout === 'held')!.err)).toMatch(
        /EACCES|permission denied/i,
      );
      expect(
        await controllerMetric('weir_controller_status_write_failures_total', { rollout: 'held' }),
      ).toBeGreaterThan(0);
      expect(await controllerMetric('weir_rollout_route_synced', { rollout: 'held' })).toBe(1);
      // Killed while status still cannot be written: the next controller keeps the canary at 0% from the route's record.
      await controller.stop('SIGKILL');
      controller = await launch();
      await sleep(4000);
      const seen = await watching.stop();
      expect(seen.maxWeight).toBe(0);
      expect(seen.served.v2 ?? 0).toBe(0);
      expect(seen.served.v1).toBeGreaterThan(20);
      // Nothing was written meanwhile: the file is the one the CLI left.
      expect(await readFile(path.join(dir, 'held.yaml'), 'utf8')).toBe(abortedFile);
      expect(abortedFile).not.toBe(frozen);
    } finally {
      await chmod(dir, 0o755);
      for (const f of files) await chmod(path.join(dir, f), 0o644);
    }
    await waitFor(
      async () => (await store().get('held')).rollout.status!.phase === 'RolledBack',
      10_000,
      'status to catch up',
    );
    const { rollout, commands } = await store().get('held');
    expect(commands).toEqual([]);
    expect(rollout.status!.refusedCommands).toEqual([]);
    expect(rollout.status!.history.filter((h) => h.action === 'rollback')).toEqual([
      expect.objectContaining({
        by: 'carol@example.com',
        canaryWeight: 0,
        summary: 'aborted (abort by carol@example.com)',
      }),
    ]);
    expect(canaryOf('second', 'v2')).toBe(0);
  }, 90_000);
});
