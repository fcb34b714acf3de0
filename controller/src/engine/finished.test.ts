// Finished rollouts (issue 11): every command refused and recorded, the route
// held at 0% or 100%, a recorded rollback completed as decided, and a new
// canary in the spec starting a new attempt.
import { emptyStatus, type RolloutStatus } from '../api/schema.js';

import { decide } from './decide.js';
import type { Command } from './types.js';

import { MIN, obs, specWith, started, step, T0 } from './decide.test-helpers.js';

describe('finished rollouts (issue 11, bug 1)', () => {
  const spec = specWith({
    strategy: { steps: [10, 25, 50, 100], minStageDuration: '5m', minSamplesPerStage: 100, maxDuration: '2h' },
  });
  /** A rollout a guardrail rolled back at 50%, as the bug report reproduced it. */
  function rolledBackAt50(): RolloutStatus {
    let status = started(spec).statusPatch;
    status = step(spec, status, obs(), T0 + 6 * MIN).statusPatch; // 25%
    status = step(spec, status, obs(), T0 + 12 * MIN).statusPatch; // 50%
    expect(status.canaryWeight).toBe(50);
    const first = step(spec, status, obs({ errorRate: 0.2 }), T0 + 13 * MIN);
    const d = step(spec, first.statusPatch, obs({ errorRate: 0.3 }), T0 + 14 * MIN);
    expect(d).toMatchObject({ action: 'rollback', canaryWeight: 0, stage: 2 });
    return d.statusPatch;
  }
  const commands: Command[] = [
    { id: 'c-approve', type: 'approve', by: 'mallory', at: '2026-11-22T11:00:00Z' },
    { id: 'c-pause', type: 'pause', by: 'mallory', at: '2026-11-22T11:00:01Z' },
    { id: 'c-resume', type: 'resume', by: 'mallory', at: '2026-11-22T11:00:02Z' },
    { id: 'c-promote', type: 'promote', by: 'mallory', at: '2026-11-22T11:00:03Z' },
    { id: 'c-full', type: 'promote', by: 'mallory', at: '2026-11-22T11:00:04Z', full: true },
    { id: 'c-abort', type: 'abort', by: 'mallory', at: '2026-11-22T11:00:05Z' },
  ];

  test.each(commands.map((c) => [`${c.type}${c.full ? ' --full' : ''}`, c] as const))(
    '%s on a rolled-back rollout keeps the canary at 0%% and is refused with who tried it',
    (_, command) => {
      const status = rolledBackAt50();
      const d = step(spec, status, obs(), T0 + 20 * MIN, [command]);
      expect(d).toMatchObject({ action: 'hold', canaryWeight: 0, mirrorPercent: 0 });
      expect(d.statusPatch).toMatchObject({
        phase: 'RolledBack',
        canaryWeight: 0,
        lastStepId: status.lastStepId,
        history: status.history,
        message: status.message,
        analysis: status.analysis,
      });
      expect(d.statusPatch.consumedCommands).toContain(command.id);
      expect(d.statusPatch.refusedCommands).toEqual([
        {
          type: command.type,
          by: 'mallory',
          at: command.at,
          reason: expect.stringContaining('the rollout is RolledBack'),
        },
      ]);
      expect(d.reasons).toEqual([expect.objectContaining({ kind: 'command', verdict: 'refused' })]);
    },
  );

  test('queued commands, and two aborts in a row (two Alertmanager webhooks 49 ms apart), never move a rolled-back canary off 0%', () => {
    const status = rolledBackAt50();
    const d = step(spec, status, obs(), T0 + 20 * MIN, commands);
    expect(d.canaryWeight).toBe(0);
    expect(d.statusPatch.refusedCommands).toHaveLength(commands.length);
    // The bug: the first abort rolled back, the second was answered with the current stage's weight (10%).
    let s = started(spec).statusPatch;
    const aborts: Command[] = [
      { id: 'w1', type: 'abort', by: 'alertmanager:ModelAccuracyDegraded', at: '2026-11-22T10:01:00.000Z' },
      { id: 'w2', type: 'abort', by: 'alertmanager:ModelAccuracyDegraded', at: '2026-11-22T10:01:00.049Z' },
    ];
    const first = step(spec, s, obs(), T0 + MIN, aborts);
    expect(first).toMatchObject({ action: 'rollback', canaryWeight: 0 });
    s = first.statusPatch;
    const second = step(spec, s, obs(), T0 + MIN + 500, aborts);
    expect(second).toMatchObject({ action: 'hold', canaryWeight: 0 });
    expect(second.statusPatch.refusedCommands.map((r) => r.by)).toEqual(['alertmanager:ModelAccuracyDegraded']);
  });

  test('a promoted rollout stays at 100% and refuses everything, retry included', () => {
    const full = step(spec, started(spec).statusPatch, obs(), T0 + MIN, [
      { id: 'f', type: 'promote', by: 'dan', at: 't', full: true },
    ]);
    expect(full.statusPatch.phase).toBe('Promoted');
    const d = step(spec, full.statusPatch, obs({ errorRate: 0.9 }), T0 + 2 * MIN, [
      ...commands,
      { id: 'r', type: 'retry', by: 'dan', at: 'u' },
    ]);
    expect(d).toMatchObject({ action: 'hold', canaryWeight: 100 });
    expect(d.statusPatch.refusedCommands.at(-1)).toMatchObject({
      type: 'retry',
      reason: expect.stringContaining('nothing to retry'),
    });
  });

  test('refusals are bounded, so a flood of commands cannot grow status', () => {
    const status = rolledBackAt50();
    const flood: Command[] = Array.from({ length: 500 }, (_, i) => ({
      id: `f${i}`,
      type: 'approve',
      by: 'spam',
      at: String(i),
    }));
    const d = step(spec, status, obs(), T0 + 20 * MIN, flood);
    expect(d.statusPatch.refusedCommands).toHaveLength(20);
    expect(d.statusPatch.refusedCommands.at(-1)!.at).toBe('499');
    expect(d.statusPatch.history).toEqual(status.history);
  });

  test('commands that do not apply to a live rollout are refused, not silently dropped', () => {
    const s0 = started(spec).statusPatch;
    const approve = step(spec, s0, obs(), T0 + MIN, [{ id: 'a', type: 'approve', by: 'erin', at: 't' }]);
    expect(approve.statusPatch.refusedCommands).toEqual([
      { type: 'approve', by: 'erin', at: 't', reason: 'the rollout is Progressing: nothing awaits approval' },
    ]);
    expect(approve.statusPatch.approvals).toEqual([]);
    const resume = step(spec, s0, obs(), T0 + MIN, [{ id: 'r', type: 'resume', by: 'erin', at: 't' }]);
    expect(resume.statusPatch.refusedCommands[0]!.reason).toContain('not Paused');
    const retry = step(spec, s0, obs(), T0 + MIN, [{ id: 'r', type: 'retry', by: 'erin', at: 't' }]);
    expect(retry.statusPatch).toMatchObject({ attempt: 1, stage: 0 });
    expect(retry.statusPatch.refusedCommands[0]!.reason).toContain('not rolled back');
  });

  test('a rollback the route carries but status lacks (its write failed) is completed as decided, whatever the metrics say now', () => {
    let status = started(spec).statusPatch;
    status = step(spec, status, obs(), T0 + 6 * MIN).statusPatch;
    status = step(spec, status, obs(), T0 + 12 * MIN).statusPatch; // 50%, recorded
    const abort: Command = { id: 'ab', type: 'abort', by: 'carol', at: '2026-11-22T10:13:00Z' };
    const decided = step(spec, status, obs(), T0 + 13 * MIN, [abort]);
    expect(decided).toMatchObject({ action: 'rollback', canaryWeight: 0 });
    expect(decided.applied).toMatchObject({
      attempt: 1,
      action: 'rollback',
      stepId: 'a1-s2-rolledback',
      by: 'carol',
      consumed: ['ab'],
    });
    // The status write failed: the store still has the 50% status and the unconsumed abort.
    // Metrics now look perfect; deciding again would advance. The route's record wins.
    const later = decide({
      spec,
      status,
      observations: obs(),
      commands: [abort],
      now: T0 + 30 * MIN,
      applied: decided.applied,
    });
    expect(later).toMatchObject({ action: 'rollback', canaryWeight: 0, stepId: 'a1-s2-rolledback' });
    expect(later.statusPatch.history.at(-1)).toMatchObject({
      action: 'rollback',
      by: 'carol',
      at: decided.applied.at,
      summary: decided.applied.summary,
    });
    expect(later.statusPatch.consumedCommands).toContain('ab');
    expect(later.statusPatch.refusedCommands).toEqual([]);
    // A record from an earlier attempt is history, not an instruction.
    const retried = step(spec, later.statusPatch, obs(), T0 + 31 * MIN, [
      { id: 'rt', type: 'retry', by: 'carol', at: 'x' },
    ]);
    const fresh = decide({
      spec,
      status: retried.statusPatch,
      observations: obs(),
      commands: [],
      now: T0 + 32 * MIN,
      applied: decided.applied,
    });
    expect(fresh.statusPatch).toMatchObject({ attempt: 2, phase: 'Progressing', canaryWeight: 10 });
  });

  test('a new canary in the spec starts a new attempt; a changed stable alone does not give a rolled-back canary traffic', () => {
    const promoted = step(spec, started(spec).statusPatch, obs(), T0 + MIN, [
      { id: 'f', type: 'promote', by: 'dan', at: 't', full: true },
    ]).statusPatch;
    expect(promoted.versions).toEqual({ stable: { version: 'v1' }, canary: { version: 'v2' } });
    const next = specWith({ ...spec, stable: { version: 'v2' }, canary: { version: 'v3' }, strategy: spec.strategy });
    const d = step(next, promoted, obs(), T0 + 2 * MIN);
    expect(d).toMatchObject({ action: 'advance', stage: 0, canaryWeight: 10, stepId: 'a2-s0-progressing' });
    expect(d.statusPatch).toMatchObject({
      attempt: 2,
      phase: 'Progressing',
      versions: { stable: { version: 'v2' }, canary: { version: 'v3' } },
    });
    expect(d.reasons[0]).toMatchObject({
      kind: 'rollout',
      verdict: 'restarted',
      message: expect.stringContaining('v1 → v2 is now v2 → v3'),
    });

    const rolledBack = rolledBackAt50();
    const newStable = specWith({ ...spec, stable: { version: 'v1b' }, strategy: spec.strategy });
    const held = step(newStable, rolledBack, obs(), T0 + 30 * MIN);
    expect(held).toMatchObject({ action: 'hold', canaryWeight: 0 });
    expect(held.statusPatch).toMatchObject({
      phase: 'RolledBack',
      attempt: 1,
      versions: { stable: { version: 'v1b' }, canary: { version: 'v2' } },
    });
    // A status written before versions were recorded adopts the spec's, without a restart.
    const { versions: _dropped, ...older } = rolledBack;
    expect(step(spec, older as RolloutStatus, obs(), T0 + 31 * MIN)).toMatchObject({ action: 'hold', canaryWeight: 0 });
  });

  test('a recorded rollback from another attempt, or from a deleted rollout of the same name, is not an instruction', () => {
    let status = started(spec).statusPatch;
    status = step(spec, status, obs(), T0 + 6 * MIN).statusPatch;
    const decided = step(spec, status, obs(), T0 + 7 * MIN, [{ id: 'ab', type: 'abort', by: 'carol', at: 't' }]);
    // The same name, created again: a fresh status, attempt 1, started later.
    const recreated = step(spec, emptyStatus(), obs(), T0 + 8 * MIN);
    const later = decide({
      spec,
      status: recreated.statusPatch,
      observations: obs(),
      commands: [],
      now: T0 + 9 * MIN,
      applied: decided.applied,
    });
    expect(later.action).not.toBe('rollback');
    expect(
      decide({ spec, status: emptyStatus(), observations: obs(), commands: [], now: T0, applied: decided.applied })
        .action,
    ).toBe('advance');
  });
});
