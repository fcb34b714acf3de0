// API calls share connections (issue 16): client-node 2.0 made a new undici
// Agent, so a new TLS connection, for every call when the kubeconfig has TLS
// options. On a real kube-apiserver, 40 calls through loadKubeConfig's client
// must open at most a few connections, counted by undici's own diagnostics
// channel; a plain KubeConfig opens one per call (the bug, shown alongside so
// the count is known to see it).
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import diagnostics from 'node:diagnostics_channel';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { loadKubeConfig } from '../../controller/src/providers/kube/client.js';
import { startKube, type KubeEnv } from '../support/kube-env.js';

let kube: KubeEnv;
let connections = 0;
const count = () => connections++;

beforeAll(async () => {
  kube = await startKube();
  diagnostics.subscribe('undici:client:connected', count);
}, 120_000);
afterAll(async () => {
  diagnostics.unsubscribe('undici:client:connected', count);
  await kube?.stop();
});

async function connectionsFor(kc: KubeConfig, calls: number): Promise<number> {
  const api = kc.makeApiClient(CoreV1Api);
  const before = connections;
  for (let i = 0; i < calls; i++) await api.listNamespace();
  // A few at once too, as the controller's reconciles are.
  await Promise.all(Array.from({ length: 8 }, () => api.listNamespace()));
  return connections - before;
}

describe('Kubernetes API connections', () => {
  test('calls through loadKubeConfig reuse connections', async () => {
    const file = await kube.kubeconfig();
    const plain = new KubeConfig();
    plain.loadFromFile(file);
    // The library alone: one connection per call (if this ever drops, client-node fixed it upstream).
    expect(await connectionsFor(plain, 40)).toBeGreaterThanOrEqual(40);
    // Ours: at most the 8 concurrent calls' worth.
    expect(await connectionsFor(loadKubeConfig({ kubeconfig: file }), 40)).toBeLessThanOrEqual(8);
  }, 60_000);
});
