// Property: whatever commands (approve, abort, pause, resume, promote,
// promote --full, retry, webhook aborts) and observations reach a finished
// rollout, in any order and number, a Promoted rollout's canary weight is 100
// and a RolledBack one's is 0, until a retry of a rolled-back rollout starts a
// new attempt. Seeded, so a failure reproduces.
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { emptyStatus, specSchema, type RolloutStatus } from '../api/schema.js';
import type { Observations } from '../analysis/observations.js';
import { decide } from './decide.js';
import type { Command } from './types.js';

const T0 = Date.parse('2026-11-22T10:00:00Z');
const spec = specSchema.parse({
  model: 'm',
  virtualService: { name: 'vs', route: 'primary' },
  stable: { version: 'v1' },
  canary: { version: 'v2' },
  strategy: {
    steps: [10, 25, 50, 100],
    minStageDuration: '1m',
    minSamplesPerStage: 10,
    maxDuration: '2h',
    approvals: [50],
  },
  analysis: {
    guardrails: [{ name: 'errors', query: 'q', max: 0.05 }],
    comparisons: [{ name: 'accuracy', type: 'proportion', role: 'primary', successes: 's', trials: 't' }],
  },
});

const observation = fc.record({
  errorRate: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
  stable: fc.tuple(fc.nat(5000), fc.nat(5000)),
  canary: fc.tuple(fc.nat(5000), fc.nat(5000)),
  samples: fc.nat(10000),
});
const toObservations = (o: {
  errorRate: number | undefined;
  stable: [number, number];
  canary: [number, number];
  samples: number;
}): Observations => ({
  samples: { stable: o.samples, canary: o.samples },
  guardrails: [{ name: 'errors', canary: o.errorRate, stable: 0.01 }],
  comparisons: [
    {
      name: 'accuracy',
      type: 'proportion',
      stable: { successes: Math.min(...o.stable), trials: Math.max(...o.stable) },
      canary: { successes: Math.min(...o.canary), trials: Math.max(...o.canary) },
    },
  ],
});
const command = fc.record({
  type: fc.constantFrom('approve', 'abort', 'pause', 'resume', 'promote', 'retry' as const),
  full: fc.boolean(),
  by: fc.constantFrom('alice', 'bob', 'alertmanager:ModelAccuracyDegraded'),
});
/** A round: some commands (possibly repeated ids, as a replay), then a decision after some time. */
const round = fc.record({
  commands: fc.array(command, { maxLength: 4 }),
  replay: fc.boolean(),
  observation,
  advanceMs: fc.integer({ min: 0, max: 10 * 60_000 }),
});

const NO_DATA: Observations = { samples: { stable: undefined, canary: undefined }, guardrails: [], comparisons: [] };

/** A rollout started, then finished by a full promote or an abort. */
function finished(kind: 'Promoted' | 'RolledBack'): RolloutStatus {
  let status = decide({ spec, status: emptyStatus(), observations: NO_DATA, commands: [], now: T0 }).statusPatch;
  const command: Command =
    kind === 'Promoted'
      ? { id: 'end', type: 'promote', full: true, by: 'setup', at: 'x' }
      : { id: 'end', type: 'abort', by: 'setup', at: 'x' };
  status = decide({ spec, status, observations: NO_DATA, commands: [command], now: T0 + 1000 }).statusPatch;
  expect(status.phase).toBe(kind);
  return status;
}

describe('finished rollouts never route other traffic (property)', () => {
  for (const kind of ['Promoted', 'RolledBack'] as const) {
    test(`${kind}: canary weight stays ${kind === 'Promoted' ? 100 : 0} under any commands and observations`, () => {
      const expected = kind === 'Promoted' ? 100 : 0;
      fc.assert(
        fc.property(fc.array(round, { minLength: 1, maxLength: 12 }), (rounds) => {
          let status = finished(kind);
          let now = T0 + 2000;
          let id = 0;
          let previous: Command[] = [];
          for (const r of rounds) {
            const fresh: Command[] = r.commands.map((c) => ({
              id: `c${id++}`,
              type: c.type,
              by: c.by,
              at: new Date(now).toISOString(),
              ...(c.full ? { full: true } : {}),
            }));
            const commands = r.replay ? [...previous, ...fresh] : fresh;
            previous = fresh;
            now += r.advanceMs;
            const d = decide({ spec, status, observations: toObservations(r.observation), commands, now });
            // A retry of a rolled-back rollout is the one way out; from there on it is a new attempt.
            if (d.statusPatch.attempt !== status.attempt) {
              expect(kind).toBe('RolledBack');
              expect(commands.some((c) => c.type === 'retry')).toBe(true);
              return;
            }
            expect(d.canaryWeight).toBe(expected);
            expect(d.mirrorPercent).toBe(0);
            expect(d.statusPatch).toMatchObject({ phase: kind, canaryWeight: expected, mirrorPercent: 0 });
            expect(['hold', 'rollback', 'promote']).toContain(d.action);
            status = d.statusPatch;
          }
        }),
        { seed: 20261123, numRuns: 1000 },
      );
    });
  }
});
