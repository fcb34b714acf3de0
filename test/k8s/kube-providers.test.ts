// The Kubernetes providers one at a time against a real kube-apiserver: the
// Istio router's optimistic concurrency and its configuration errors, the
// ModelRollout store's resourceVersion checks and commands, and the Lease.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';

import { createLogger } from '../../shared/log.js';
import { validateModelRollout } from '../../controller/src/api/validate.js';
import type { ModelRollout } from '../../controller/src/api/schema.js';
import { loadKubeConfig } from '../../controller/src/providers/kube/client.js';

import { routeTarget } from '../../controller/src/engine/route.js';
import { IstioRouter } from '../../controller/src/providers/istio/router.js';
import { LeaderElector } from '../../controller/src/providers/kube/lease.js';
import { KubeRolloutStore } from '../../controller/src/providers/kube/store.js';
import {
  CommandRefusedError,
  ConflictError,
  InvalidRolloutError,
  RouteConfigError,
} from '../../controller/src/providers/types.js';
import { waitFor } from '../support/predictor.js';
import { applyObject, installCrds, patchJson, startKube, type KubeEnv, virtualServices } from '../support/kube-env.js';
import { sleep } from '../../shared/wait.js';
import { anAppliedStep, aSpecInput } from '../support/fixtures.js';

const log = createLogger('test', 'error');
const VS = virtualServices('team');
let kube: KubeEnv;
let kc: KubeConfig;
let api: CustomObjectsApi;

const rollout = (name: string, extra: Record<string, unknown> = {}): ModelRollout =>
  validateModelRollout({
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'ModelRollout',
    metadata: { name, namespace: 'team' },
    spec: {
      ...aSpecInput({ model: 'm' }),
      ...extra,
    },
  }).rollout!;

/** A two-version rollout's route at `canaryWeight` (stable takes the rest). */
const at = (r: ModelRollout, canaryWeight: number, mirrorPercent: number) =>
  routeTarget(r.spec, { canaryWeight, mirrorPercent });

const virtualService = (http: unknown[]) => ({
  apiVersion: 'networking.istio.io/v1beta1',
  kind: 'VirtualService',
  metadata: { name: 'predictor', namespace: 'team' },
  spec: { hosts: ['predictor'], http },
});
const primary = {
  name: 'primary',
  route: [
    { destination: { host: 'predictor', subset: 'v1' }, weight: 100 },
    { destination: { host: 'predictor', subset: 'v2' }, weight: 0 },
  ],
};
const readVs = async () =>
  (await api.getNamespacedCustomObject({ ...VS, name: 'predictor' })) as {
    spec: { http: { name: string; route: { weight?: number }[] }[] };
  };

beforeAll(async () => {
  kube = await startKube();
  await installCrds(kube);
  await kube.kubectl(['create', 'namespace', 'team']);
  await applyObject(kube, {
    apiVersion: 'networking.istio.io/v1beta1',
    kind: 'DestinationRule',
    metadata: { name: 'predictor', namespace: 'team' },
    spec: {
      host: 'predictor.team.svc.cluster.local',
      subsets: [{ name: 'v1' }, { name: 'v1-baseline' }, { name: 'v2' }],
    },
  });
  kc = loadKubeConfig({ kubeconfig: await kube.kubeconfig() });
  api = kc.makeApiClient(CustomObjectsApi);
}, 120_000);
afterAll(async () => {
  await kube?.stop();
});

describe('IstioRouter', () => {
  test('a missing VirtualService, route or subset is a RouteConfigError with a reason', async () => {
    const router = new IstioRouter(kc);
    const reasonOf = (p: Promise<unknown>) =>
      p.then(
        () => 'no error',
        (err: unknown) => (err instanceof RouteConfigError ? err.reason : `not a RouteConfigError: ${String(err)}`),
      );
    expect(await reasonOf(router.getRoutes(rollout('r')))).toBe('VirtualServiceNotFound');
    await applyObject(
      kube,
      virtualService([{ name: 'other', route: [{ destination: { host: 'predictor', subset: 'v1' } }] }]),
    );
    expect(await reasonOf(router.getRoutes(rollout('r')))).toBe('RouteNotFound');
    await applyObject(kube, virtualService([primary]));
    expect(await reasonOf(router.getRoutes(rollout('r', { canary: { version: 'v9' } })))).toBe('SubsetNotFound');
    expect(await router.getRoutes(rollout('r'))).toEqual({ weights: [100, 0], mirrorPercent: 0 });
  });

  test('a concurrent edit of another route makes the write conflict (409); the retry keeps both', async () => {
    await applyObject(kube, virtualService([primary]));
    const router = new IstioRouter(kc);
    const r = rollout('r');
    await router.getRoutes(r); // reads the VirtualService that setRoutes will patch
    await patchJson(kube, 'virtualservice', 'predictor', 'team', [
      {
        op: 'add',
        path: '/spec/http/0',
        value: { name: 'beta', route: [{ destination: { host: 'predictor', subset: 'v2' } }] },
      },
    ]);
    await router.setRoutes(r, at(r, 25, 0), anAppliedStep('a1-s1-progressing', 'advance'));
    expect(router.counts).toEqual({ writes: 1, conflicts: 1 });
    const vs = await readVs();
    expect(vs.spec.http.map((h) => h.name)).toEqual(['beta', 'primary']);
    expect(vs.spec.http[1]!.route.map((d) => d.weight)).toEqual([75, 25]);
  });

  test('mirror and header route for a strategy that asks for them', async () => {
    await applyObject(kube, virtualService([primary]));
    const router = new IstioRouter(kc);
    const r = rollout('r', {
      strategy: {
        mirror: { percent: 50, duration: '1m' },
        headerRoute: { headers: { 'x-cohort': { exact: 'canary' } } },
      },
    });
    await router.setRoutes(r, at(r, 0, 50), anAppliedStep('a1-s0-mirroring', 'advance'));
    let vs = (await readVs()) as unknown as { spec: { http: Record<string, unknown>[] } };
    expect(vs.spec.http[0]).toMatchObject({
      name: 'primary',
      mirror: { host: 'predictor', subset: 'v2' },
      mirrorPercentage: { value: 50 },
    });
    await router.setRoutes(r, at(r, 10, 0), anAppliedStep('a1-s1-progressing', 'advance'));
    vs = (await readVs()) as unknown as { spec: { http: Record<string, unknown>[] } };
    expect(vs.spec.http.map((h) => h.name)).toEqual(['primary-weir-canary', 'primary']);
    expect(vs.spec.http[1]).not.toHaveProperty('mirror');
  });

  test('sticky assignment: the API server stores the cookie route and the canary response header, and both go at a rollback', async () => {
    await applyObject(kube, virtualService([primary]));
    const router = new IstioRouter(kc);
    const r = rollout('r', { strategy: { stickiness: { cookie: 'weir-version', maxAge: '2h' } } });
    await router.setRoutes(r, at(r, 25, 0), anAppliedStep('a1-s1-progressing', 'advance'));
    let vs = (await readVs()) as unknown as { spec: { http: Record<string, any>[] } };
    expect(vs.spec.http.map((h) => h.name)).toEqual(['primary-weir-sticky-v2', 'primary']);
    expect(vs.spec.http[0]!.match).toEqual([{ headers: { cookie: { regex: '^(.*;\\s*)?weir-version=v2(;.*)?$' } } }]);
    expect(vs.spec.http[1]!.route[1]).toMatchObject({
      weight: 25,
      headers: { response: { add: { 'Set-Cookie': 'weir-version=v2; Max-Age=7200; Path=/' } } },
    });
    await router.setRoutes(r, at(r, 0, 0), anAppliedStep('a1-s1-rolledback', 'rollback'));
    vs = (await readVs()) as unknown as { spec: { http: Record<string, any>[] } };
    expect(vs.spec.http.map((h) => h.name)).toEqual(['primary']);
    expect(vs.spec.http[0]!.route[1]).not.toHaveProperty('headers');
  });

  test('three destinations (stable, baseline, canary): each gets its weight, foreign fields and routes stay, and a fourth destination is set to 0', async () => {
    const foreign = {
      name: 'primary',
      route: [
        { destination: { host: 'predictor', subset: 'v1', port: { number: 8080 } }, weight: 90, headers: { x: 1 } },
        { destination: { host: 'predictor', subset: 'v0' }, weight: 10 },
      ],
      timeout: '3s',
      retries: { attempts: 2 },
    };
    const beta = { name: 'beta', route: [{ destination: { host: 'predictor', subset: 'v1' } }] };
    await applyObject(kube, virtualService([beta, foreign]));
    const router = new IstioRouter(kc);
    const r = rollout('r', { baseline: { version: 'v1-baseline' } });
    expect(await router.getRoutes(r)).toMatchObject({ weights: [90, 0, 0], mirrorPercent: 0 });
    await router.setRoutes(
      r,
      routeTarget(r.spec, { canaryWeight: 25, mirrorPercent: 0, baselineWeight: 25 }),
      anAppliedStep('a1-s1-progressing', 'advance'),
    );
    const vs = (await api.getNamespacedCustomObject({ ...VS, name: 'predictor' })) as {
      spec: { http: Record<string, unknown>[] };
    };
    expect(vs.spec.http[0]).toEqual(beta);
    expect(vs.spec.http[1]).toEqual({
      name: 'primary',
      route: [
        { destination: { host: 'predictor', subset: 'v1', port: { number: 8080 } }, weight: 50, headers: { x: 1 } },
        { destination: { host: 'predictor', subset: 'v1-baseline' }, weight: 25 },
        { destination: { host: 'predictor', subset: 'v2' }, weight: 25 },
        { destination: { host: 'predictor', subset: 'v0' }, weight: 0 },
      ],
      timeout: '3s',
      retries: { attempts: 2 },
    });
    expect(await router.getRoutes(r)).toMatchObject({ weights: [50, 25, 25], mirrorPercent: 0 });
    // A baseline subset the DestinationRule lacks is named before anything is written.
    const missing = rollout('r', { baseline: { version: 'v1-base', subset: 'v1-base' } });
    await expect(router.getRoutes(missing)).rejects.toThrow(/no subset "v1-base" \(version v1-base\)/);
  });
});

describe('IstioRouter step record (issue 11, bug 6)', () => {
  test('the route keeps the step it carries beside its weights, per rollout, and ignores a record it did not write', async () => {
    await applyObject(
      kube,
      virtualService([
        primary,
        {
          name: 'other',
          route: [
            { destination: { host: 'predictor', subset: 'v1' }, weight: 100 },
            { destination: { host: 'predictor', subset: 'v2' }, weight: 0 },
          ],
        },
      ]),
    );
    const router = new IstioRouter(kc);
    const mine = rollout('mine');
    const theirs = validateModelRollout({
      apiVersion: 'weir.dev/v1alpha1',
      kind: 'ModelRollout',
      metadata: { name: 'theirs', namespace: 'team' },
      spec: { ...rollout('x').spec, virtualService: { name: 'predictor', route: 'other' } },
    }).rollout!;
    const rolledBack = { ...anAppliedStep('a1-s2-rolledback', 'rollback'), by: 'carol', consumed: ['abort-1'] };
    await router.setRoutes(mine, at(mine, 0, 0), rolledBack);
    await router.setRoutes(theirs, at(theirs, 25, 0), anAppliedStep('a1-s1-progressing', 'advance'));
    expect(await router.getRoutes(mine)).toEqual({
      weights: [100, 0],
      mirrorPercent: 0,
      step: { ...rolledBack, rollout: 'team/mine' },
    });
    expect((await router.getRoutes(theirs)).step).toMatchObject({ stepId: 'a1-s1-progressing' });
    // A compare-and-swap on the record: a replica that read the route before another writer
    // recorded a new step (a rollback by the new leader) gets a conflict, and overwrites nothing.
    await router.setRoutes(mine, at(mine, 50, 0), anAppliedStep('a1-s2-progressing', 'advance'));
    const stale = new IstioRouter(kc);
    await stale.getRoutes(mine);
    await router.setRoutes(mine, at(mine, 0, 0), {
      ...anAppliedStep('a1-s2-rolledback', 'rollback'),
      summary: 'the new leader rolled back',
    });
    await expect(
      stale.setRoutes(mine, at(mine, 100, 0), anAppliedStep('a1-s3-progressing', 'advance')),
    ).rejects.toBeInstanceOf(ConflictError);
    expect(await router.getRoutes(mine)).toMatchObject({
      weights: [100, 0],
      step: { summary: 'the new leader rolled back' },
    });
    // Someone writes garbage into the annotation: no record, and no crash.
    await kube.kubectl(
      [
        'annotate',
        '--overwrite',
        'virtualservice',
        'predictor',
        '-n',
        'team',
        'weir.dev/applied-steps={"mine":{"attempt":"x"},"theirs":7',
      ],
      'admin',
    );
    expect(await router.getRoutes(mine)).toEqual({ weights: [100, 0], mirrorPercent: 0 });
  });
});

describe('KubeRolloutStore', () => {
  test('an invalid spec is listed apart with its reason and never blocks the others; a finished rollout refuses commands and records who tried', async () => {
    const good = rollout('good');
    await applyObject(kube, {
      apiVersion: 'weir.dev/v1alpha1',
      kind: 'ModelRollout',
      metadata: { name: 'good', namespace: 'team' },
      spec: good.spec,
    });
    // The CRD schema admits it; weir's validation does not (an approval that is not a step).
    await applyObject(kube, {
      apiVersion: 'weir.dev/v1alpha1',
      kind: 'ModelRollout',
      metadata: { name: 'bad', namespace: 'team' },
      spec: { ...good.spec, strategy: { ...good.spec.strategy, approvals: [33] } },
    });
    const store = new KubeRolloutStore(kc, { namespaces: ['team'], log });
    await store.start();
    try {
      const listing = await store.list();
      expect(listing.rollouts.map((r) => r.key)).toContain('team/good');
      expect(listing.invalid).toEqual([
        expect.objectContaining({
          key: 'team/bad',
          reason: expect.stringContaining('spec.strategy.approvals[0]: 33 is not one of the steps'),
          metadata: expect.objectContaining({ name: 'bad', namespace: 'team', uid: expect.any(String) }),
        }),
      ]);
      expect((await store.listFromServer()).invalid.map((i) => i.key)).toEqual(['team/bad']);
      await expect(store.get('team/bad')).rejects.toBeInstanceOf(InvalidRolloutError);
      // Roll the good one back, as the controller would record it.
      const read = await store.get('team/good');
      await store.writeStatus(
        'team/good',
        { ...read.rollout.status!, phase: 'RolledBack', stage: 2, canaryWeight: 0 },
        read.revision,
      );
      const refused = store.addCommand('team/good', { type: 'approve', by: 'mallory', at: '2026-11-23T01:00:00Z' });
      await expect(refused).rejects.toBeInstanceOf(CommandRefusedError);
      const after = await store.get('team/good');
      expect(after.commands).toEqual([]);
      expect(after.rollout.status!.refusedCommands).toEqual([
        {
          type: 'approve',
          by: 'mallory',
          at: '2026-11-23T01:00:00Z',
          reason: expect.stringContaining('the rollout is RolledBack'),
        },
      ]);
      expect(after.rollout.status!.phase).toBe('RolledBack');
      // A retry is the one command it takes.
      await expect(
        store.addCommand('team/good', { type: 'retry', by: 'carol', at: '2026-11-23T01:01:00Z' }),
      ).resolves.toMatchObject({ type: 'retry' });
    } finally {
      store.stop();
      await kube.kubectl(['delete', 'modelrollout', 'good', 'bad', '-n', 'team'], 'admin');
    }
  });

  test('status writes need the current resourceVersion; commands survive concurrent writers', async () => {
    await applyObject(kube, {
      apiVersion: 'weir.dev/v1alpha1',
      kind: 'ModelRollout',
      metadata: { name: 'store', namespace: 'team' },
      spec: rollout('store').spec,
    });
    let changes = 0;
    const store = new KubeRolloutStore(kc, { namespaces: ['team'], log, onChange: () => changes++ });
    await store.start();
    try {
      expect((await store.list()).rollouts.map((s) => s.key)).toEqual(['team/store']);
      const first = await store.get('team/store');
      expect(first.rollout.status!.phase).toBe('Pending');
      // Two people give commands at once: both are kept.
      await Promise.all([
        store.addCommand('team/store', { type: 'pause', by: 'alice', at: '2026-11-23T00:00:00Z' }),
        store.addCommand('team/store', { type: 'abort', by: 'bob', at: '2026-11-23T00:00:01Z' }),
      ]);
      const withCommands = await store.get('team/store');
      expect(withCommands.commands.map((c) => c.by).sort()).toEqual(['alice', 'bob']);
      // A write from the stale revision is refused with 409.
      const stale = store.writeStatus('team/store', { ...first.rollout.status!, phase: 'Progressing' }, first.revision);
      // The API server's 409 reaches the caller as the named ConflictError: read again and decide again.
      await expect(stale).rejects.toBeInstanceOf(ConflictError);
      await expect(stale).rejects.toThrow(/ModelRollout team\/store changed since resourceVersion \d+; read it again/);
      // Consuming one command removes it and keeps the other.
      const pause = withCommands.commands.find((c) => c.type === 'pause')!;
      await store.writeStatus(
        'team/store',
        { ...withCommands.rollout.status!, consumedCommands: [pause.id] },
        withCommands.revision,
      );
      expect((await store.get('team/store')).commands.map((c) => c.type)).toEqual(['abort']);
      // The watch cache saw the writes.
      await waitFor(async () => (await store.list()).rollouts[0]!.commands.length === 1, 5000, 'the cache to catch up');
      expect(changes).toBeGreaterThan(1);
    } finally {
      store.stop();
    }
  });
});

describe('LeaderElector', () => {
  test('one of two candidates leads; when it stops it hands the Lease over at once', async () => {
    await kube.kubectl(['create', 'namespace', 'weir-system']).catch(() => undefined);
    const make = (identity: string) =>
      new LeaderElector(kc, { namespace: 'weir-system', name: 'unit', identity, leaseDurationMs: 3000, log });
    const [a, b] = [make('a'), make('b')];
    a.start();
    await waitFor(() => a.isLeader, 5000, 'a to lead');
    b.start();
    await sleep(1500);
    expect([a.isLeader, b.isLeader]).toEqual([true, false]);
    const released = performance.now();
    await a.stop();
    await waitFor(() => b.isLeader, 5000, 'b to take over');
    // Released, not expired: b does not wait out the 3 s lease.
    expect(performance.now() - released).toBeLessThan(2000);
    await b.stop();
    expect(
      () =>
        new LeaderElector(kc, {
          namespace: 'x',
          name: 'y',
          identity: 'z',
          leaseDurationMs: 1000,
          renewDeadlineMs: 2000,
          log,
        }),
    ).toThrow('leader election: need retry period');
  });
});
