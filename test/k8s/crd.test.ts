// The generated ModelRollout CRD on a real kube-apiserver: accepted as a
// structural schema, defaults applied by the server, bad objects refused.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import path from 'node:path';
import { packageRoot } from '../../shared/paths.js';
import { installCrds, startKube, type KubeEnv } from '../support/kube-env.js';

let kube: KubeEnv;
const root = packageRoot();

beforeAll(async () => {
  kube = await startKube();
}, 120_000);
afterAll(async () => {
  await kube?.stop();
});

describe('ModelRollout CRD', () => {
  test('is accepted, established, and serves the example with server-side defaults', async () => {
    await installCrds(kube, ['weir']);
    await kube.kubectl(['create', 'namespace', 'models']);
    await kube.kubectl(['apply', '-f', path.join(root, 'manifests/examples/price-direction.yaml')]);
    const stored = JSON.parse(
      await kube.kubectl(['get', 'modelrollout', 'price-direction', '-n', 'models', '-o', 'json']),
    );
    expect(stored.spec.canary.version).toBe('v2');
    // Omitted in the example; filled in by the apiserver from the schema's default.
    expect(stored.spec.analysis.samples).toContain('istio_requests_total');
    expect(stored.spec.analysis.comparisons[1]).toMatchObject({ name: 'latency', role: 'guard', minEffect: 0 });
    expect(await kube.kubectl(['get', 'mro', '-n', 'models'])).toMatch(
      /NAME\s+MODEL\s+STABLE\s+CANARY\s+PHASE\s+WEIGHT\s+AGE\n\s*price-direction\s+price-direction\s+v1\s+v2/,
    );
  });

  test('refuses an object that breaks the schema, naming the field', async () => {
    const bad = JSON.stringify({
      apiVersion: 'weir.dev/v1alpha1',
      kind: 'ModelRollout',
      metadata: { name: 'bad', namespace: 'models' },
      spec: {
        model: 'm',
        virtualService: { name: 'vs', route: 'r' },
        stable: { version: 'v1' },
        canary: { version: 'v2' },
        strategy: { steps: 'ten' },
      },
    });
    const refused = await kube.kubectl(['apply', '-f', '-'], 'admin', bad).then(
      () => 'accepted',
      (err: Error) => err.message,
    );
    expect(refused).toContain('spec.strategy.steps');
  });
});
