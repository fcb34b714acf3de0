// Controller shards on a real kube-apiserver + etcd: `weir controller --shard a`
// drives only the ModelRollouts labelled weir.dev/shard=a, `--shard b` only
// those labelled b, and a controller without --shard only those with no shard
// label, so every rollout is driven by exactly one controller. Relabelling a
// rollout hands it from one shard to the other. Each shard elects its own leader.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { RolloutStatus } from '../../controller/src/api/schema.js';
import { loadKubeConfig } from '../../controller/src/providers/kube/client.js';
import { startPrometheus, type PrometheusProcess } from '../../controller/src/local/prometheus-process.js';
import { aRolloutDocument } from '../support/fixtures.js';
import { kubeControllerArgs, startController, type ControllerProcess } from '../support/controller-process.js';
import {
  applyObject,
  CONTROLLER_SA,
  installWeir,
  modelRollouts,
  startKube,
  tokenUser,
  type KubeEnv,
} from '../support/kube-env.js';
import { runWeir } from '../support/cli.js';
import { scrape } from '../support/metrics.js';
import { waitFor } from '../support/predictor.js';
import { sleep } from '../../shared/wait.js';

const NS = 'models';
const HOST = 'predictor.models.svc.cluster.local';
const SHARDS = { a: 'weir.dev/shard=a', b: 'weir.dev/shard=b', none: '' } as const;
type Shard = keyof typeof SHARDS;
/** Two rollouts per shard, each on its own VirtualService. */
const ROLLOUTS: { name: string; shard: Shard }[] = [
  { name: 'ra1', shard: 'a' },
  { name: 'ra2', shard: 'a' },
  { name: 'rb1', shard: 'b' },
  { name: 'rb2', shard: 'b' },
  { name: 'rn1', shard: 'none' },
  { name: 'rn2', shard: 'none' },
];

let kube: KubeEnv;
let admin: KubeConfig;
let prometheus: PrometheusProcess;
const controllers = {} as Record<Shard, ControllerProcess>;

/** The rollouts a controller has reconciled, from its own weir_controller_reconciles_total. */
async function reconciledBy(shard: Shard): Promise<Set<string>> {
  const samples = await scrape(`http://127.0.0.1:${controllers[shard].port}/metrics`);
  return new Set(
    samples.filter((s) => s.name === 'weir_controller_reconciles_total' && s.value > 0).map((s) => s.labels.rollout!),
  );
}

async function status(name: string): Promise<RolloutStatus | undefined> {
  const api = admin.makeApiClient(CustomObjectsApi);
  return ((await api.getNamespacedCustomObject({ ...modelRollouts(NS), name })) as { status?: RolloutStatus }).status;
}

/** The controllers (by Event reportingInstance) that recorded Events about a rollout. */
async function reporters(name: string): Promise<Set<string>> {
  const events = await admin
    .makeApiClient(CoreV1Api)
    .listNamespacedEvent({ namespace: NS, fieldSelector: `involvedObject.name=${name}` });
  return new Set(events.items.map((e) => e.reportingInstance ?? ''));
}

beforeAll(async () => {
  kube = await startKube([tokenUser(CONTROLLER_SA)]);
  await installWeir(kube);
  admin = loadKubeConfig({ kubeconfig: await kube.kubeconfig() });
  for (const { name, shard } of ROLLOUTS) {
    await applyObject(kube, {
      apiVersion: 'networking.istio.io/v1beta1',
      kind: 'VirtualService',
      metadata: { name: `vs-${name}`, namespace: NS },
      spec: {
        hosts: [HOST],
        http: [
          {
            name: 'primary',
            route: [
              { destination: { host: HOST, subset: 'v1' }, weight: 100 },
              { destination: { host: HOST, subset: 'v2' }, weight: 0 },
            ],
          },
        ],
      },
    });
    const doc = aRolloutDocument(name, { virtualService: { name: `vs-${name}`, route: 'primary' } }, NS);
    await applyObject(kube, {
      ...doc,
      metadata: { ...doc.metadata, ...(shard === 'none' ? {} : { labels: { 'weir.dev/shard': shard } }) },
    });
  }
  // A real Prometheus with nothing to scrape: the rollouts start (their first stage needs no
  // metrics) and then hold on no data, which is all sharding needs.
  prometheus = await startPrometheus({ targets: [] });
  const config = await kube.kubeconfig(CONTROLLER_SA);
  for (const shard of Object.keys(SHARDS) as Shard[])
    controllers[shard] = await startController([
      ...kubeControllerArgs(config, prometheus.url, `controller-${shard}`),
      ...(shard === 'none' ? [] : ['--shard', shard]),
    ]);
}, 120_000);

afterAll(async () => {
  await Promise.all(Object.values(controllers).map((c) => c.stop()));
  await prometheus?.stop();
  await kube?.stop();
});

describe('controller shards on the real API server', () => {
  test('every rollout is driven by exactly the controller of its shard', async () => {
    // Every rollout starts: its status is written and its canary gets the first stage.
    await waitFor(
      async () => {
        const phases = await Promise.all(ROLLOUTS.map(async (r) => (await status(r.name))?.phase));
        return phases.every((p) => p === 'Progressing');
      },
      60_000,
      'every rollout to be Progressing',
    );
    for (const shard of Object.keys(SHARDS) as Shard[]) {
      const mine = ROLLOUTS.filter((r) => r.shard === shard).map((r) => `${NS}/${r.name}`);
      expect([...(await reconciledBy(shard))].sort()).toEqual(mine.sort());
    }
    for (const { name, shard } of ROLLOUTS) expect([...(await reporters(name))]).toEqual([`controller-${shard}`]);
    // Each shard holds its own Lease, so the three are leaders at once.
    const leases = admin.makeApiClient(CoordinationV1Api);
    const holder = async (lease: string) =>
      (await leases.readNamespacedLease({ name: lease, namespace: 'weir-system' })).spec?.holderIdentity;
    expect(await holder('weir-controller-a')).toBe('controller-a');
    expect(await holder('weir-controller-b')).toBe('controller-b');
    expect(await holder('weir-controller')).toBe('controller-none');
  }, 90_000);

  test('relabelling a rollout hands it to the other shard, and the first stops driving it', async () => {
    await kube.kubectl(['label', 'modelrollout', 'ra2', '-n', NS, 'weir.dev/shard=b', '--overwrite']);
    // Shard b picks it up; a command then shows who drives it now: only b consumes it.
    await waitFor(async () => (await reconciledBy('b')).has(`${NS}/ra2`), 30_000, 'shard b to reconcile ra2');
    // Shard a's watch delivered the same change as b's (the label no longer matches: DELETED).
    await sleep(2000);
    const before = (await scrape(`http://127.0.0.1:${controllers.a.port}/metrics`))
      .filter((s) => s.name === 'weir_controller_reconciles_total' && s.labels.rollout === `${NS}/ra2`)
      .reduce((sum, s) => sum + s.value, 0);
    const paused = await runWeir(['pause', 'ra2', '-n', NS, '--kubeconfig', await kube.kubeconfig()]);
    expect(paused.code).toBe(0);
    await waitFor(async () => (await status('ra2'))?.phase === 'Paused', 30_000, 'ra2 to be paused by shard b');
    const after = (await scrape(`http://127.0.0.1:${controllers.a.port}/metrics`))
      .filter((s) => s.name === 'weir_controller_reconciles_total' && s.labels.rollout === `${NS}/ra2`)
      .reduce((sum, s) => sum + s.value, 0);
    expect(after).toBe(before);
    const events = await admin
      .makeApiClient(CoreV1Api)
      .listNamespacedEvent({ namespace: NS, fieldSelector: `involvedObject.name=ra2,reason=Paused` });
    expect(events.items.map((e) => e.reportingInstance)).toEqual(['controller-b']);
  }, 90_000);

  test('--shard takes a label value and is refused in local mode, by name', async () => {
    const bad = await runWeir([
      'controller',
      '--prometheus',
      prometheus.url,
      '--kubeconfig',
      await kube.kubeconfig(),
      '--shard',
      'a b',
    ]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--shard "a b" is not a label value');
    const local = await runWeir(
      [
        'controller',
        '--prometheus',
        prometheus.url,
        '--local',
        kube.dir,
        '--gateway',
        'http://127.0.0.1:1',
        '--shard',
        'a',
      ],
      {
        WEIR_GATEWAY_TOKEN: 'x',
      },
    );
    expect(local.code).not.toBe(0);
    expect(local.stderr).toContain('--shard is for Kubernetes mode');
  }, 30_000);
});
