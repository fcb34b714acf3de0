// The local gateway following a VirtualService in a real kube-apiserver: weight
// patches reach it quickly, traffic follows them, and an invalid update is refused.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import { CustomObjectsApi } from '@kubernetes/client-node';
import { createLogger } from '../../shared/log.js';
import { Gateway } from '../../controller/src/local/gateway/server.js';
import { parseRouteTable, weightsOf } from '../../controller/src/local/gateway/routes.js';
import { VirtualServiceWatcher } from '../../controller/src/local/gateway/vs-watch.js';
import { loadKubeConfig } from '../../controller/src/providers/kube/client.js';
import { type PredictorProcess } from '../../controller/src/local/predictor-process.js';

import { MODEL, inferBody, marketRows, predictor, request, waitFor } from '../support/predictor.js';
import { applyObject, installCrds, patchJson, startKube, type KubeEnv } from '../support/kube-env.js';
import { sleep } from '../../shared/wait.js';

let kube: KubeEnv;
let v1: PredictorProcess;
let v2: PredictorProcess;
let gateway: Gateway;
let watcher: VirtualServiceWatcher;
let url = '';

const vs = (w1: number, w2: number) => ({
  apiVersion: 'networking.istio.io/v1beta1',
  kind: 'VirtualService',
  metadata: { name: 'predictor', namespace: 'models' },
  spec: {
    hosts: ['predictor'],
    http: [
      {
        name: 'beta',
        match: [{ headers: { 'x-cohort': { exact: 'beta' } } }],
        route: [{ destination: { host: 'predictor', subset: 'v2' } }],
      },
      {
        name: 'primary',
        route: [
          { destination: { host: 'predictor', subset: 'v1' }, weight: w1 },
          { destination: { host: 'predictor', subset: 'v2' }, weight: w2 },
        ],
      },
    ],
  },
});
const patchWeights = (w1: number, w2: number) =>
  patchJson(kube, 'virtualservice', 'predictor', 'models', [
    { op: 'replace', path: '/spec/http/1/route/0/weight', value: w1 },
    { op: 'replace', path: '/spec/http/1/route/1/weight', value: w2 },
  ]);

beforeAll(async () => {
  [kube, v1, v2] = await Promise.all([startKube(), predictor({ version: 'v1' }), predictor({ version: 'v2' })]);
  await installCrds(kube, ['istio']);
  await kube.kubectl(['create', 'namespace', 'models']);
  await applyObject(kube, vs(100, 0));
  gateway = new Gateway(
    {
      table: parseRouteTable(vs(50, 50).spec),
      backends: { v1: [v1.url], v2: [v2.url] },
      service: 'predictor',
      token: 'watch-test-token-0123456789',
    },
    createLogger('gateway', 'error'),
  );
  url = `http://127.0.0.1:${(await gateway.listen(0, 0)).port}`;
  watcher = new VirtualServiceWatcher(
    gateway,
    loadKubeConfig({ kubeconfig: await kube.kubeconfig() }),
    { namespace: 'models', name: 'predictor' },
    createLogger('gateway', 'error'),
  );
  await watcher.start();
}, 120_000);
afterAll(async () => {
  watcher?.stop();
  await gateway?.close();
  await Promise.all([kube?.stop(), v1?.stop(), v2?.stop()]);
});

describe('gateway watching a VirtualService', () => {
  test('starts from the stored VirtualService, and traffic follows weight patches', async () => {
    expect(weightsOf(gateway.routes, 'primary')).toEqual({ v1: 100, v2: 0 });
    await patchWeights(0, 100);
    await waitFor(() => weightsOf(gateway.routes, 'primary').v2 === 100, 10_000, 'the patch to arrive');
    const body = inferBody([marketRows(1)[0]!.features]);
    const versions = await Promise.all(
      Array.from(
        { length: 20 },
        async () => (await request(`${url}/v2/models/${MODEL}/infer`, { body })).body.model_version,
      ),
    );
    expect(new Set(versions)).toEqual(new Set(['v2']));
    // The header route of the same VirtualService came along untouched.
    expect(gateway.routes.http[0]!.name).toBe('beta');
  });

  test('a VirtualService write reaches the gateway quickly (20 writes; p50 and p99 printed)', async () => {
    const api = loadKubeConfig({ kubeconfig: await kube.kubeconfig() }).makeApiClient(CustomObjectsApi);
    const ref = {
      group: 'networking.istio.io',
      version: 'v1beta1',
      namespace: 'models',
      plural: 'virtualservices',
      name: 'predictor',
    };
    const delays: number[] = [];
    for (let i = 0; i < 20; i++) {
      const w = i % 2 === 0 ? 25 : 75;
      const current = (await api.getNamespacedCustomObject(ref)) as {
        spec: { http: { route: { weight?: number }[] }[] };
      };
      current.spec.http[1]!.route[0]!.weight = 100 - w;
      current.spec.http[1]!.route[1]!.weight = w;
      const sent = performance.now();
      await api.replaceNamespacedCustomObject({ ...ref, body: current });
      while (weightsOf(gateway.routes, 'primary').v2 !== w) {
        if (performance.now() - sent > 10_000) throw new Error(`write ${i} never reached the gateway`);
        await sleep(1);
      }
      delays.push(performance.now() - sent);
    }
    delays.sort((a, b) => a - b);
    process.stdout.write(
      `VirtualService write sent → gateway applied: p50 ${delays[9]!.toFixed(1)} ms, p99 ${delays[19]!.toFixed(1)} ms\n`,
    );
    expect(delays[19]!).toBeLessThan(2000);
  });

  test('an invalid VirtualService is refused and the last good routes stay', async () => {
    const before = watcher.counts.rejected;
    await patchWeights(60, 60);
    await waitFor(() => watcher.counts.rejected === before + 1, 10_000, 'the invalid update to be seen');
    expect(weightsOf(gateway.routes, 'primary')).toEqual({ v1: 25, v2: 75 });
  });
});
