// One writer per route: which of several rollouts naming the same VirtualService route owns it.
import { describe, expect, test } from '@jest/globals';
import { emptyStatus, specSchema, type Phase } from '../api/schema.js';
import type { StoredRollout } from '../providers/types.js';
import { routeOwners } from './ownership.js';

function stored(
  key: string,
  route: string,
  phase: Phase,
  startedAt?: string,
  lastStepAt?: string,
  namespace = 'models',
): StoredRollout {
  const spec = specSchema.parse({
    model: 'm',
    virtualService: { name: 'predictor', route },
    stable: { version: 'v1' },
    canary: { version: 'v2' },
  });
  const status = {
    ...emptyStatus(),
    phase,
    ...(startedAt ? { startedAt } : {}),
    history: lastStepAt
      ? [{ stepId: 's', action: 'rollback', stage: 0, canaryWeight: 0, at: lastStepAt, summary: 's' }]
      : [],
  };
  return {
    key,
    rollout: {
      apiVersion: 'weir.dev/v1alpha1',
      kind: 'ModelRollout',
      metadata: { name: key, namespace },
      spec,
      status,
    },
    commands: [],
    revision: '1',
  };
}

describe('routeOwners', () => {
  test('rollouts on routes of their own own them', () => {
    expect(
      routeOwners([stored('a', 'primary', 'Progressing'), stored('b', 'second', 'Progressing')], 'local').size,
    ).toBe(0);
  });

  test('a live rollout owns a route before finished ones; among live ones the first started', () => {
    const owners = routeOwners(
      [
        stored('old-rollback', 'primary', 'RolledBack', '2026-11-20T00:00:00Z', '2026-11-20T01:00:00Z'),
        stored('later', 'primary', 'Progressing', '2026-11-23T02:00:00Z'),
        stored('first', 'primary', 'Progressing', '2026-11-23T01:00:00Z'),
        stored('pending', 'primary', 'Pending'),
      ],
      'local',
    );
    expect(Object.fromEntries(owners)).toEqual({ 'old-rollback': 'first', later: 'first', pending: 'first' });
  });

  test('when all are finished, the one that finished last keeps the route', () => {
    const owners = routeOwners(
      [
        stored('promoted-first', 'primary', 'Promoted', 't', '2026-11-21T00:00:00Z'),
        stored('rolled-back-later', 'primary', 'RolledBack', 't', '2026-11-22T00:00:00Z'),
      ],
      'local',
    );
    expect(Object.fromEntries(owners)).toEqual({ 'promoted-first': 'rolled-back-later' });
  });

  test('the same route name in another namespace is another route', () => {
    expect(
      routeOwners(
        [
          stored('a', 'primary', 'Progressing', 't', undefined, 'one'),
          stored('b', 'primary', 'Progressing', 't', undefined, 'two'),
        ],
        'local',
      ).size,
    ).toBe(0);
  });
});
