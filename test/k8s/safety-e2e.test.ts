// Kubernetes mode end to end for issue 11 (bugs 1 and 6), on a real
// kube-apiserver + etcd. The controller runs as a process with the
// ServiceAccount token the RBAC in manifests/ binds; the test watches the
// VirtualService as the API server serves it.
//   1. A rolled-back rollout refuses every command (the CLI exits 4 and its
//      status records who tried what; a command queued straight into status
//      gets a CommandRefused Event), and a hand edit of the route is undone.
//   6. With the controller's right to write modelrollouts/status revoked
//      (every status write then fails with 403), an abort still takes the
//      canary's traffic away at once, across a kill -9 of the controller; the
//      status catches up, with the original author, when the right is back.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import path from 'node:path';

import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';

import type { RolloutStatus } from '../../controller/src/api/schema.js';
import { packageRoot } from '../../shared/paths.js';
import { loadKubeConfig } from '../../controller/src/providers/kube/client.js';

import { waitFor } from '../support/predictor.js';
import {
  CONTROLLER_SA,
  installWeir,
  modelRollouts,
  patchJson,
  startKube,
  tokenUser,
  watchCollection,
  type KubeEnv,
  type WatchedVirtualService,
  virtualServices,
} from '../support/kube-env.js';
import { startController, type ControllerProcess } from '../support/controller-process.js';
import { sleep } from '../../shared/wait.js';
import { runWeir } from '../support/cli.js';

const SA = CONTROLLER_SA;
const manifest = (file: string) => path.join(packageRoot(), 'manifests', file);
const HOST = 'predictor.models.svc.cluster.local';
const VS_LIST = virtualServices('models');
const MR = modelRollouts('models');

let kube: KubeEnv;
let admin: KubeConfig;
let api: CustomObjectsApi;
let controller: ControllerProcess;
const informers: { stop(): void }[] = [];
/** Every canary weight each route had, as the API server's watch showed it. */
const canaryWeights: Record<string, number[]> = {};

const status = async (name: string) =>
  ((await api.getNamespacedCustomObject({ ...MR, name })) as { status?: RolloutStatus }).status!;
const canaryNow = (route: string) => canaryWeights[route]?.at(-1) ?? 0;

const cli = async (user: string, ...args: string[]) =>
  runWeir([...args, '--kubeconfig', await kube.kubeconfig(user), '-n', 'models']);

async function launch(id: string): Promise<ControllerProcess> {
  // No Prometheus: these rollouts have no metric gates, so nothing waits on data.
  return startController([
    '--kubeconfig',
    await kube.kubeconfig(SA),
    '--prometheus',
    'http://127.0.0.1:9',
    '--lease-namespace',
    'weir-system',
    '--lease-duration',
    '3s',
    '--identity',
    id,
    '--namespace',
    'models',
  ]);
}

const rollout = (name: string, route: string) =>
  stringify({
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'ModelRollout',
    metadata: { name, namespace: 'models' },
    spec: {
      model: 'price-direction',
      virtualService: { name: 'predictor', route },
      stable: { version: 'v1' },
      canary: { version: 'v2' },
      strategy: {
        steps: [10, 25, 50, 100],
        minStageDuration: '1s',
        minSamplesPerStage: 0,
        approvals: [100],
        maxDuration: '10m',
      },
      analysis: { interval: '1s' },
    },
  });

beforeAll(async () => {
  kube = await startKube([tokenUser(SA), tokenUser('alice')]);
  await installWeir(kube, { approvers: ['alice'] });
  // A second route for the second rollout.
  await patchJson(kube, 'virtualservice', 'predictor', 'models', [
    {
      op: 'add',
      path: '/spec/http/0',
      value: {
        name: 'second',
        match: [{ headers: { 'x-rollout': { exact: 'second' } } }],
        route: [
          { destination: { host: HOST, subset: 'v1' }, weight: 100 },
          { destination: { host: HOST, subset: 'v2' }, weight: 0 },
        ],
      },
    },
  ]);
  admin = loadKubeConfig({ kubeconfig: await kube.kubeconfig() });
  api = admin.makeApiClient(CustomObjectsApi);
  const vs = await watchCollection<WatchedVirtualService>(admin, VS_LIST, (object) => {
    for (const route of object.spec.http) {
      const weight = route.route.find((d) => d.destination.subset === 'v2')?.weight ?? 0;
      const list = (canaryWeights[route.name ?? ''] ??= []);
      if (list.at(-1) !== weight) list.push(weight);
    }
  });
  informers.push(vs);
  controller = await launch('c1');
}, 180_000);

afterAll(async () => {
  for (const i of informers) i.stop();
  await controller?.stop('SIGKILL');
  await kube?.stop();
});

describe('Kubernetes mode: a rollback sticks, and lands although status cannot be written', () => {
  test('bug 1: a rolled-back rollout refuses every command, records who tried, and its route edits are undone', async () => {
    await kube.kubectl(['apply', '-f', '-'], 'admin', rollout('sticky', 'primary'));
    await waitFor(async () => (await status('sticky'))?.phase === 'AwaitingApproval', 60_000, 'sticky to wait at 50%');
    expect(canaryNow('primary')).toBe(50);
    expect((await cli('alice', 'abort', 'sticky')).code).toBe(0);
    await waitFor(async () => (await status('sticky')).phase === 'RolledBack', 20_000, 'the rollback');
    await waitFor(() => canaryNow('primary') === 0, 5000, 'the route at 0%');
    const rolledBackAt = canaryWeights.primary!.length;
    const history = (await status('sticky')).history;

    for (const args of [['approve'], ['pause'], ['resume'], ['promote'], ['promote', '--full'], ['abort']]) {
      const result = await cli('alice', args[0]!, 'sticky', ...args.slice(1));
      expect([args.join(' '), result.code, result.stderr]).toEqual([
        args.join(' '),
        4,
        expect.stringContaining('models/sticky: refused: the rollout is RolledBack'),
      ]);
    }
    // A command that reached status before the rollback landed (queued): the controller refuses it and says so in an Event.
    const current = await status('sticky');
    await api.replaceNamespacedCustomObjectStatus({
      ...MR,
      name: 'sticky',
      body: {
        apiVersion: 'weir.dev/v1alpha1',
        kind: 'ModelRollout',
        metadata: {
          name: 'sticky',
          namespace: 'models',
          resourceVersion: (
            (await api.getNamespacedCustomObject({ ...MR, name: 'sticky' })) as {
              metadata: { resourceVersion: string };
            }
          ).metadata.resourceVersion,
        },
        status: {
          ...current,
          commands: [{ id: 'queued-1', type: 'promote', full: true, by: 'queued-user', at: '2026-11-23T00:00:00Z' }],
        },
      },
    });
    await waitFor(
      async () => (await status('sticky')).commands.length === 0,
      10_000,
      'the queued command to be consumed',
    );
    // The controller records the Event after the status write that consumed the command: wait for it, then check it.
    const refusals = async () =>
      (await admin.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: 'models' })).items.filter(
        (e) => e.involvedObject.name === 'sticky' && e.reason === 'CommandRefused',
      );
    await waitFor(async () => (await refusals()).length > 0, 10_000, 'the CommandRefused Event');
    const events = await refusals();
    expect(events.map((e) => e.message)).toEqual([
      expect.stringContaining(
        'promote --full by queued-user at 2026-11-23T00:00:00Z refused: the rollout is RolledBack',
      ),
    ]);

    // Someone edits the route back to 50/50: the controller puts it back at 0%.
    await patchJson(kube, 'virtualservice', 'predictor', 'models', [
      { op: 'replace', path: '/spec/http/1/route/0/weight', value: 50 },
      { op: 'replace', path: '/spec/http/1/route/1/weight', value: 50 },
    ]);
    await waitFor(() => canaryNow('primary') === 50, 5000, 'the edit to be seen');
    await waitFor(() => canaryNow('primary') === 0, 10_000, 'the route back at 0%');

    const after = await status('sticky');
    expect(after).toMatchObject({ phase: 'RolledBack', canaryWeight: 0, history });
    expect(after.refusedCommands.map((r) => `${r.type} by ${r.by}`)).toEqual([
      'approve by alice',
      'pause by alice',
      'resume by alice',
      'promote by alice',
      'promote by alice',
      'abort by alice',
      'promote by queued-user',
    ]);
    // Apart from the hand edit and its undoing, the canary weight never moved off 0 after the rollback.
    expect(canaryWeights.primary!.slice(rolledBackAt)).toEqual([50, 0]);
  }, 150_000);

  test('bug 6: with status writes refused (403), an abort still takes traffic off the canary, across a kill -9; status catches up', async () => {
    await kube.kubectl(['apply', '-f', '-'], 'admin', rollout('frozen', 'second'));
    await waitFor(async () => (await status('frozen'))?.phase === 'AwaitingApproval', 60_000, 'frozen to wait at 50%');
    expect(canaryNow('second')).toBe(50);
    // Take away the controller's right to update modelrollouts/status (the second rule of its ClusterRole).
    await kube.kubectl([
      'patch',
      'clusterrole',
      'weir-controller',
      '--type',
      'json',
      '-p',
      JSON.stringify([
        { op: 'test', path: '/rules/1/resources/0', value: 'modelrollouts/status' },
        { op: 'remove', path: '/rules/1' },
      ]),
    ]);
    await waitFor(
      async () =>
        (
          await kube
            .kubectl([
              'auth',
              'can-i',
              'update',
              'modelrollouts.weir.dev',
              '--subresource=status',
              '-n',
              'models',
              '--as',
              SA,
            ])
            .catch((e: Error) => e.message)
        )
          .trim()
          .startsWith('no'),
      10_000,
      'the right to be gone',
    );
    try {
      expect((await cli('alice', 'abort', 'frozen')).code).toBe(0);
      await waitFor(() => canaryNow('second') === 0, 10_000, 'the canary at 0% although status cannot be written');
      const from = canaryWeights.second!.length;
      await waitFor(
        () => controller.records('status write failed').some((r) => r.rollout === 'models/frozen'),
        10_000,
        'a refused status write',
      );
      expect(String(controller.records('status write failed').find((r) => r.rollout === 'models/frozen')!.err)).toMatch(
        /forbidden/,
      );
      expect((await status('frozen')).phase).toBe('AwaitingApproval');
      // kill -9 while status is still refused; a new controller takes the Lease and keeps the canary at 0%.
      await controller.stop('SIGKILL');
      controller = await launch('c2');
      await waitFor(
        () => controller.records('status write failed').some((r) => r.rollout === 'models/frozen'),
        20_000,
        'the new controller to try and fail to write status',
      );
      await sleep(2000);
      expect(canaryWeights.second!.slice(from)).toEqual([]);
      expect(canaryNow('second')).toBe(0);
      expect((await status('frozen')).phase).toBe('AwaitingApproval');
    } finally {
      await kube.kubectl(['apply', '-f', manifest('rbac/controller.yaml')]);
    }
    await waitFor(async () => (await status('frozen')).phase === 'RolledBack', 30_000, 'status to catch up');
    const frozen = await status('frozen');
    expect(frozen.commands).toEqual([]);
    expect(frozen.refusedCommands).toEqual([]);
    expect(frozen.history.filter((h) => h.action === 'rollback')).toEqual([
      expect.objectContaining({ by: 'alice', canaryWeight: 0, summary: 'aborted (abort by alice)' }),
    ]);
    expect(canaryNow('second')).toBe(0);
  }, 150_000);
});
