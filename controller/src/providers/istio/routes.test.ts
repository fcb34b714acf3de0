import { describe, expect, test } from '@jest/globals';
import { specSchema, type ModelRolloutSpecInput } from '../../api/schema.js';
import { RouteConfigError } from '../types.js';
import {
  APPLIED_STEPS_ANNOTATION,
  appliedStepOf,
  headerRouteName,
  rewriteRoutes,
  sameHost,
  subsetsNeeded,
  weightsOfRoute,
  withAppliedStep,
  type IstioHttpRoute,
} from './routes.js';
import { aSpecInput } from '../../../../test/support/fixtures.js';
import { routeTarget } from '../../engine/route.js';

const spec = (extra: Partial<ModelRolloutSpecInput> = {}) =>
  specSchema.parse({
    ...aSpecInput({ model: 'm' }),
    ...extra,
  });

const routes = (): IstioHttpRoute[] => [
  {
    name: 'beta',
    match: [{ headers: { 'x-cohort': { exact: 'beta' } } }],
    route: [{ destination: { host: 'predictor', subset: 'v1' } }],
    timeout: '3s',
  },
  {
    name: 'primary',
    route: [
      {
        destination: { host: 'predictor', subset: 'v1', port: { number: 8080 } },
        weight: 100,
        headers: { request: { set: { 'x-weir': 'stable' } } },
      },
      { destination: { host: 'predictor', subset: 'v2' }, weight: 0 },
    ],
    retries: { attempts: 2 },
  },
];

/** The rewrite for a two-version rollout at `canaryWeight` (stable takes the rest). */
const rewrite = (
  http: IstioHttpRoute[],
  s: ReturnType<typeof spec>,
  vs: string,
  canaryWeight: number,
  mirrorPercent: number,
) => rewriteRoutes(http, s, vs, routeTarget(s, { canaryWeight, mirrorPercent }));

/** A two-version rollout's weights as stable, canary and mirror share. */
const weightsOf = (route: IstioHttpRoute, s: ReturnType<typeof spec>) => {
  const read = weightsOfRoute(route, s);
  return { stable: read.weights[0], canary: read.weights.at(-1), mirrorPercent: read.mirrorPercent };
};

describe('rewriteRoutes', () => {
  test('sets the owned route weights and copies every other route and field as it was', () => {
    const before = routes();
    const after = rewrite(before, spec(), 'models/predictor', 25, 0);
    expect(after[0]).toEqual(before[0]);
    expect(after[1]).toEqual({
      name: 'primary',
      route: [
        {
          destination: { host: 'predictor', subset: 'v1', port: { number: 8080 } },
          weight: 75,
          headers: { request: { set: { 'x-weir': 'stable' } } },
        },
        { destination: { host: 'predictor', subset: 'v2' }, weight: 25 },
      ],
      retries: { attempts: 2 },
    });
    expect(weightsOf(after[1]!, spec())).toEqual({ stable: 75, canary: 25, mirrorPercent: 0 });
    // The input is not mutated.
    expect(before).toEqual(routes());
  });

  test('adds the canary destination with the stable host when the route lacks it; other destinations get 0', () => {
    const http: IstioHttpRoute[] = [
      {
        name: 'primary',
        route: [
          { destination: { host: 'predictor.models.svc.cluster.local', subset: 'v1' }, weight: 90 },
          { destination: { host: 'predictor.models.svc.cluster.local', subset: 'v0' }, weight: 10 },
        ],
      },
    ];
    const after = rewrite(http, spec(), 'models/predictor', 10, 0);
    expect(after[0]!.route).toEqual([
      { destination: { host: 'predictor.models.svc.cluster.local', subset: 'v1' }, weight: 90 },
      { destination: { host: 'predictor.models.svc.cluster.local', subset: 'v2' }, weight: 10 },
      { destination: { host: 'predictor.models.svc.cluster.local', subset: 'v0' }, weight: 0 },
    ]);
  });

  test('host destinations: versions named by host', () => {
    const s = spec({
      stable: { version: 'v1', host: 'predictor-v1' },
      canary: { version: 'v2', host: 'predictor-v2' },
    });
    const http: IstioHttpRoute[] = [
      { name: 'primary', route: [{ destination: { host: 'predictor-v1' }, weight: 100 }] },
    ];
    const after = rewrite(http, s, 'models/predictor', 50, 0);
    expect(after[0]!.route).toEqual([
      { destination: { host: 'predictor-v1' }, weight: 50 },
      { destination: { host: 'predictor-v2' }, weight: 50 },
    ]);
    expect(subsetsNeeded(after[0]!, s)).toEqual([]);
  });

  test('mirror stage writes mirror and mirrorPercentage; weir removes only its own mirror', () => {
    const mirrored = rewrite(routes(), spec(), 'models/predictor', 0, 100);
    expect(mirrored[1]!.mirror).toEqual({ host: 'predictor', subset: 'v2' });
    expect(mirrored[1]!.mirrorPercentage).toEqual({ value: 100 });
    const cleared = rewrite(mirrored, spec(), 'models/predictor', 10, 0);
    expect(cleared[1]).not.toHaveProperty('mirror');
    expect(cleared[1]).not.toHaveProperty('mirrorPercentage');
    const theirs = routes();
    theirs[1]!.mirror = { host: 'shadow-logger' };
    theirs[1]!.mirrorPercentage = { value: 5 };
    const kept = rewrite(theirs, spec(), 'models/predictor', 10, 0);
    expect(kept[1]!.mirror).toEqual({ host: 'shadow-logger' });
    expect(kept[1]!.mirrorPercentage).toEqual({ value: 5 });
  });

  test('header route for A/B: added before the owned route during canary stages, removed at 0 and 100', () => {
    const s = spec({ strategy: { headerRoute: { headers: { 'x-cohort': { exact: 'canary' } } } } });
    const during = rewrite(routes(), s, 'models/predictor', 25, 0);
    expect(during.map((r) => r.name)).toEqual(['beta', headerRouteName(s), 'primary']);
    expect(during[1]).toEqual({
      name: 'primary-weir-canary',
      match: [{ headers: { 'x-cohort': { exact: 'canary' } } }],
      route: [{ destination: { host: 'predictor', subset: 'v2' }, weight: 100 }],
    });
    // Rewriting again does not add a second one.
    expect(rewrite(during, s, 'models/predictor', 50, 0).map((r) => r.name)).toEqual([
      'beta',
      'primary-weir-canary',
      'primary',
    ]);
    expect(rewrite(during, s, 'models/predictor', 0, 0).map((r) => r.name)).toEqual(['beta', 'primary']);
    expect(rewrite(during, s, 'models/predictor', 100, 0).map((r) => r.name)).toEqual(['beta', 'primary']);
  });

  test('sticky assignment: the canary sets its cookie, a cookie route sends its users back, both go at 0 and 100; foreign headers stay', () => {
    const s = spec({ strategy: { stickiness: { cookie: 'weir-version', maxAge: '1h' } } });
    const during = rewrite(routes(), s, 'models/predictor', 10, 0);
    expect(during.map((r) => r.name)).toEqual(['beta', 'primary-weir-sticky-v2', 'primary']);
    expect(during[1]).toEqual({
      name: 'primary-weir-sticky-v2',
      match: [{ headers: { cookie: { regex: '^(.*;\\s*)?weir-version=v2(;.*)?$' } } }],
      route: [{ destination: { host: 'predictor', subset: 'v2' }, weight: 100 }],
    });
    const owned = during[2]!.route!;
    expect(owned[1]).toEqual({
      destination: { host: 'predictor', subset: 'v2' },
      weight: 10,
      headers: { response: { add: { 'Set-Cookie': 'weir-version=v2; Max-Age=3600; Path=/' } } },
    });
    // Stable's own request header stays, and stable sets no cookie: only the new version's users stick.
    expect(owned[0]!.headers).toEqual({ request: { set: { 'x-weir': 'stable' } } });
    // The regex is RE2 and matches the cookie among others, not a longer name or value.
    const regex = new RegExp(
      (during[1]!.match as { headers: { cookie: { regex: string } } }[])[0]!.headers.cookie.regex,
    );
    expect(['weir-version=v2', 'a=1; weir-version=v2', 'weir-version=v2; b=2'].every((c) => regex.test(c))).toBe(true);
    expect(['weir-version=v21', 'xweir-version=v2', 'weir-version=v1'].some((c) => regex.test(c))).toBe(false);
    // Rolled back or promoted: the route and the cookie go, so nobody is held on a rolled-back version.
    for (const weight of [0, 100]) {
      const after = rewrite(during, s, 'models/predictor', weight, 0);
      expect(after.map((r) => r.name)).toEqual(['beta', 'primary']);
      expect(after[1]!.route![1]).not.toHaveProperty('headers');
    }
  });

  test('a missing route or stable destination is a RouteConfigError naming it', () => {
    const missingRoute = () =>
      rewrite([{ name: 'other', route: [{ destination: { host: 'x' } }] }], spec(), 'models/predictor', 10, 0);
    expect(missingRoute).toThrow(RouteConfigError);
    expect(missingRoute).toThrow('VirtualService models/predictor has no HTTP route named "primary" (routes: other)');
    const noStable = () =>
      rewrite(
        [{ name: 'primary', route: [{ destination: { host: 'predictor', subset: 'v9' } }] }],
        spec(),
        'models/predictor',
        10,
        0,
      );
    expect(noStable).toThrow(
      'route "primary" of VirtualService models/predictor has no destination for the stable version (subset v1)',
    );
    try {
      noStable();
    } catch (err) {
      expect((err as RouteConfigError).reason).toBe('DestinationNotFound');
    }
    expect(() => rewrite(routes(), spec(), 'models/predictor', 12.5, 0)).toThrow(
      'weight 87.5 of version v1 is not a whole percentage',
    );
  });

  test('subsets needed, and Istio host matching across short and full names', () => {
    expect(subsetsNeeded(routes()[1]!, spec())).toEqual([
      { host: 'predictor', subset: 'v1', version: 'v1' },
      { host: 'predictor', subset: 'v2', version: 'v2' },
    ]);
    expect(sameHost('predictor', 'predictor.models.svc.cluster.local', 'models')).toBe(true);
    expect(sameHost('predictor', 'predictor.other.svc.cluster.local', 'models')).toBe(false);
    expect(sameHost('predictor', 'predictor', 'models')).toBe(true);
  });

  test("the share mirrored to the canary: Istio mirrors 100% when mirrorPercentage is unset; another mirror is not the canary's", () => {
    const route = {
      name: 'primary',
      route: [{ destination: { host: 'predictor', subset: 'v1' }, weight: 100 }],
      mirror: { host: 'predictor', subset: 'v2' },
    };
    expect(weightsOf(route, spec()).mirrorPercent).toBe(100);
    expect(weightsOf({ ...route, mirrorPercentage: { value: 30 } }, spec()).mirrorPercent).toBe(30);
    expect(weightsOf({ ...route, mirror: { host: 'shadow' } }, spec()).mirrorPercent).toBe(0);
  });

  test('step records: one per rollout in one annotation; records of others stay; anything malformed reads as no record', () => {
    const rollback = {
      attempt: 2,
      stepId: 'a2-s1-rolledback',
      action: 'rollback' as const,
      at: '2026-11-23T00:00:00.000Z',
      by: 'carol',
      summary: 'x'.repeat(5000),
      consumed: ['c1'],
    };
    const value = withAppliedStep(
      {
        [APPLIED_STEPS_ANNOTATION]: JSON.stringify({
          other: { attempt: 1, stepId: 'a1-s0-progressing', action: 'advance', at: 't', summary: 's', consumed: [] },
        }),
      },
      'mine',
      rollback,
    );
    const annotations = { [APPLIED_STEPS_ANNOTATION]: value };
    expect(appliedStepOf(annotations, 'mine')).toEqual({ ...rollback, summary: `${'x'.repeat(1000)}…` });
    expect(appliedStepOf(annotations, 'other')).toMatchObject({ stepId: 'a1-s0-progressing' });
    expect(appliedStepOf(annotations, 'nobody')).toBeUndefined();
    expect(appliedStepOf(annotations, '__proto__')).toBeUndefined();
    for (const garbage of ['{', 'null', '[1]', '{"mine": {"attempt": "2"}}', '{"mine": 7}'])
      expect(appliedStepOf({ [APPLIED_STEPS_ANNOTATION]: garbage }, 'mine')).toBeUndefined();
    expect(appliedStepOf(undefined, 'mine')).toBeUndefined();
  });
});
