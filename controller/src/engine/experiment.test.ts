// Experiments over several versions (issue 15): A/B/n and bandits through
// decide(), driven by `now`, with observations built the way the controller
// builds them (planQueries' keys, observe()).
import { describe, expect, it } from '@jest/globals';
import { emptyStatus, specSchema, type ModelRolloutSpecInput, type RolloutStatus } from '../api/schema.js';
import { experimentResults, experimentVersions, observe, type Observations } from '../analysis/observations.js';
import { aSpecInput } from '../../../test/support/fixtures.js';
import { holm } from '../stats/holm.js';
import { evaluateFamily, type ComparisonOutcome } from './comparisons.js';
import { decide } from './decide.js';
import { experimentRouteOf, lowersExposure, routeTarget } from './route.js';
import { checkExperimentSampleRatio } from './sample-ratio.js';
import { ControllerMetrics } from '../controller/metrics.js';
import { stagesOf } from './stages.js';
import type { Command } from './types.js';

const T0 = Date.parse('2026-11-24T10:00:00Z');
const MIN = 60_000;

type Experiment = NonNullable<NonNullable<ModelRolloutSpecInput['strategy']>['experiment']>;

function experimentSpec(experiment: Experiment, more: Partial<ModelRolloutSpecInput> = {}) {
  return specSchema.parse({
    ...aSpecInput(),
    candidates: [{ version: 'v3' }],
    strategy: {
      minStageDuration: '5m',
      minSamplesPerStage: 100,
      maxDuration: '2h',
      experiment,
    },
    analysis: {
      warmup: '0s',
      guardrails: [{ name: 'error-rate', query: 'q', max: 0.05, failureLimit: 2 }],
      comparisons: [
        { name: 'accuracy', type: 'proportion', role: 'primary', successes: 's', trials: 't', minEffect: 0.01 },
      ],
    },
    ...more,
  });
}
type Spec = ReturnType<typeof experimentSpec>;

interface Arm {
  /** [successes, trials] of the accuracy comparison. */
  accuracy?: [number, number];
  errorRate?: number;
  /** Requests served; by default as the split in force routes 30,000. */
  samples?: number;
}

/** Query results keyed as planQueries keys an experiment's, turned into observations by observe(). */
function observed(spec: Spec, status: RolloutStatus, arms: Record<string, Arm>): Observations {
  const counts = Object.fromEntries(
    experimentVersions(spec).map((version) => {
      const arm = arms[version] ?? {};
      return [
        version,
        {
          requests: arm.samples ?? 300 * (status.weights?.[version] ?? 0),
          guardrail: arm.errorRate ?? 0.01,
          proportions: { accuracy: arm.accuracy ?? ([120_000, 200_000] as [number, number]) },
        },
      ];
    }),
  );
  return observe(spec, experimentResults(spec, counts));
}

function run(spec: Spec, status: RolloutStatus, arms: Record<string, Arm>, now: number, commands: Command[] = []) {
  return decide({ spec, status, observations: observed(spec, status, arms), commands, now });
}

const approve = (at: number): Command => ({
  id: `approve-${at}`,
  type: 'approve',
  by: 'alice@example.com',
  at: new Date(at).toISOString(),
});

describe('experiment spec (issue 15)', () => {
  const issues = (input: unknown) => {
    const parsed = specSchema.safeParse(input);
    return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };
  const base = { ...aSpecInput(), candidates: [{ version: 'v3' }] };
  const primary = {
    comparisons: [{ name: 'accuracy', type: 'proportion', role: 'primary', successes: 's', trials: 't' }],
  };

  it('names the field of every bad experiment', () => {
    expect(issues({ ...base, strategy: { experiment: { type: 'bandit' } } })).toContainEqual(
      expect.stringMatching(/^strategy\.experiment\.reward: a bandit needs a reward/),
    );
    expect(
      issues({ ...base, strategy: { experiment: { type: 'bandit', reward: 'latency' } }, analysis: primary }),
    ).toContainEqual(
      expect.stringMatching(/^strategy\.experiment\.reward: names no comparison; expected one of accuracy/),
    );
    expect(
      issues({
        ...base,
        strategy: { experiment: { type: 'abn', weights: { v1: 50, v2: 30, v3: 30 } } },
        analysis: primary,
      }),
    ).toContainEqual('strategy.experiment.weights: sums to 110; the weights must sum to 100');
    expect(
      issues({ ...base, strategy: { experiment: { type: 'abn', weights: { v1: 50, v2: 50 } } }, analysis: primary }),
    ).toContainEqual(expect.stringMatching(/^strategy\.experiment\.weights: has no weight for v3/));
    expect(
      issues({
        ...base,
        strategy: { experiment: { type: 'bandit', reward: 'accuracy', floor: 40 } },
        analysis: primary,
      }),
    ).toContainEqual(expect.stringMatching(/^strategy\.experiment\.floor: is 40% for each of 3 versions, 120% in all/));
    expect(issues({ ...base, strategy: { experiment: { type: 'abn' } } })).toContainEqual(
      expect.stringMatching(/^analysis\.comparisons: has no primary comparison/),
    );
    expect(issues({ ...base, analysis: primary })).toContainEqual(
      expect.stringMatching(/^candidates: needs strategy\.experiment/),
    );
    expect(
      issues({
        ...base,
        candidates: [{ version: 'v2' }],
        strategy: { experiment: { type: 'abn' } },
        analysis: primary,
      }),
    ).toContainEqual('candidates.0.version: is already routed as canary; each version takes part once');
    expect(
      issues({ ...base, baseline: { version: 'v1-b' }, strategy: { experiment: { type: 'abn' } }, analysis: primary }),
    ).toContainEqual(expect.stringMatching(/^baseline: is not supported with strategy\.experiment/));
    expect(
      issues({ ...base, strategy: { experiment: { type: 'abn' }, approvals: [50] }, analysis: primary }),
    ).toContainEqual(expect.stringMatching(/^strategy\.approvals: may only hold 100 in an experiment/));
    // A sticky version is written into a cookie: it must be a label value, so nothing can be injected.
    expect(
      issues({
        ...aSpecInput(),
        canary: { version: 'v2; Path=/evil' },
        strategy: { stickiness: { cookie: 'weir-version' } },
      }),
    ).toContainEqual(expect.stringMatching(/^canary\.version: is not a label value .*written into a cookie$/));
  });

  it('takes a valid A/B/n and a valid bandit, each as one split stage and the winner at 100%', () => {
    expect(issues({ ...base, strategy: { experiment: { type: 'abn' } }, analysis: primary })).toEqual([]);
    const bandit = experimentSpec({ type: 'bandit', reward: 'accuracy' });
    expect(bandit.strategy.experiment).toMatchObject({ algorithm: 'thompson', floor: 1, c: 2, stopProbability: 0.95 });
    expect(stagesOf(bandit).map((s) => s.weight)).toEqual([0, 100]);
  });
});

describe('A/B/n (issue 15)', () => {
  const spec = experimentSpec(
    { type: 'abn' },
    {
      strategy: {
        minStageDuration: '5m',
        minSamplesPerStage: 100,
        maxDuration: '2h',
        approvals: [100],
        experiment: { type: 'abn' },
      },
    },
  );

  it('starts with an even split over the three versions, and routes it', () => {
    const d = run(spec, emptyStatus(), {}, T0);
    expect(d.statusPatch.weights).toEqual({ v1: 34, v2: 33, v3: 33 });
    expect(routeTarget(spec, d).weights.map((w) => [w.ref.version, w.weight])).toEqual([
      ['v1', 34],
      ['v2', 33],
      ['v3', 33],
    ]);
    expect(d.statusPatch.weightHistory).toHaveLength(1);
    expect(d.statusPatch.history.at(-1)).toMatchObject({ action: 'advance', weights: { v1: 34, v2: 33, v3: 33 } });
  });

  it('declares v2 the winner once it is better than the control and not worse than v3, then waits for approval', () => {
    let status = run(spec, emptyStatus(), {}, T0).statusPatch;
    const arms = { v2: { accuracy: [130_000, 200_000] as [number, number] } };
    // Before minStageDuration: no winner, whatever the numbers say.
    let d = run(spec, status, arms, T0 + 1 * MIN);
    expect(d.action).toBe('hold');
    expect(d.statusPatch.message).toMatch(/stage time 60s of 5m/);
    status = d.statusPatch;
    d = run(spec, status, arms, T0 + 6 * MIN);
    expect(d.action).toBe('await-approval');
    expect(d.statusPatch.experiment?.winner).toBe('v2');
    expect(d.statusPatch.weights).toEqual({ v1: 34, v2: 33, v3: 33 });
    // v2 against v1 and v2 against v3, Holm-adjusted across v2 and v3 on accuracy.
    expect(d.reasons.filter((r) => r.kind === 'comparison').map((r) => r.message)).toEqual([
      expect.stringMatching(/^v2: accuracy: better, v2 − v1 0\.0500/),
      expect.stringMatching(/^v3: accuracy: inconclusive, v3 − v1 0\.00/),
      expect.stringMatching(/^v3 against v2: accuracy: harmful, v3 − v2 -0\.0500/),
    ]);
    status = d.statusPatch;
    d = run(spec, status, arms, T0 + 7 * MIN, [approve(T0 + 7 * MIN)]);
    expect(d.action).toBe('promote');
    expect(d.statusPatch.phase).toBe('Promoted');
    expect(d.statusPatch.weights).toEqual({ v1: 0, v2: 100, v3: 0 });
    expect(d.statusPatch.history.at(-1)).toMatchObject({ action: 'promote', by: 'alice@example.com' });
    expect(routeTarget(spec, d).weights.map((w) => w.weight)).toEqual([0, 100, 0]);
  });

  it('takes a harmful candidate out and gives its share to the control, then rolls back when none is left', () => {
    let status = run(spec, emptyStatus(), {}, T0).statusPatch;
    let d = run(spec, status, { v3: { accuracy: [100_000, 200_000] } }, T0 + MIN);
    expect(d.statusPatch.experiment?.dropped).toEqual([
      expect.objectContaining({ version: 'v3', reason: expect.stringMatching(/accuracy: harmful, v3 − v1 -0\.100/) }),
    ]);
    expect(d.statusPatch.weights).toEqual({ v1: 67, v2: 33, v3: 0 });
    expect(d.statusPatch.weightHistory.map((h) => h.weights)).toEqual([
      { v1: 34, v2: 33, v3: 33 },
      { v1: 67, v2: 33, v3: 0 },
    ]);
    expect(d.statusPatch.phase).toBe('Progressing');
    status = d.statusPatch;
    d = run(spec, status, { v2: { errorRate: 0.2 }, v3: { accuracy: [100_000, 200_000] } }, T0 + 2 * MIN);
    expect(d.statusPatch.phase).toBe('Progressing');
    d = run(spec, d.statusPatch, { v2: { errorRate: 0.2 }, v3: { accuracy: [100_000, 200_000] } }, T0 + 3 * MIN);
    expect(d.action).toBe('rollback');
    expect(d.statusPatch.message).toMatch(/every candidate was taken out \(v3: .*; v2: guardrail error-rate failed 2/);
    expect(d.statusPatch.weights).toEqual({ v1: 100, v2: 0, v3: 0 });
  });

  it('declares no winner while a better candidate beats it, on a second primary comparison', () => {
    const two = specSchema.parse({
      ...spec,
      analysis: {
        ...spec.analysis,
        comparisons: [
          ...spec.analysis.comparisons,
          { name: 'conversion', type: 'proportion', role: 'primary', successes: 'cs', trials: 'ct', minEffect: 0.01 },
        ],
      },
    });
    const withConversion = (status: RolloutStatus, conversion: Record<string, [number, number]>) => {
      const o = observed(two, status, { v2: { accuracy: [130_000, 200_000] }, v3: { accuracy: [140_000, 200_000] } });
      for (const pair of o.experiment!.pairs) {
        const c = pair.observations.comparisons.find((x) => x.name === 'conversion')!;
        if (c.type !== 'proportion') throw new Error('conversion is a proportion');
        const of = (v: string) => ({ successes: conversion[v]![0], trials: conversion[v]![1] });
        c.stable = of(pair.reference);
        c.canary = of(pair.version);
      }
      return o;
    };
    // v3 is best on accuracy but not better than v1 on conversion, so it does not qualify;
    // v2 qualifies, but v3 is significantly better than it on accuracy.
    const conversion = { v1: [20_000, 200_000], v2: [30_000, 200_000], v3: [20_000, 200_000] } as Record<
      string,
      [number, number]
    >;
    const status = decide({
      spec: two,
      status: emptyStatus(),
      observations: withConversion(emptyStatus(), conversion),
      commands: [],
      now: T0,
    }).statusPatch;
    const d = decide({
      spec: two,
      status,
      observations: withConversion(status, conversion),
      commands: [],
      now: T0 + 6 * MIN,
    });
    expect(d.action).toBe('hold');
    expect(d.statusPatch.experiment?.winner).toBeUndefined();
    expect(d.statusPatch.message).toMatch(
      /v3: conversion inconclusive.*v2 better than the control, but not yet apart from another candidate/,
    );
  });

  it('a sample-ratio mismatch over three versions pauses the experiment, once the split has settled', () => {
    const status = run(spec, emptyStatus(), {}, T0).statusPatch;
    const samples = (v1: number, v2: number, v3: number) => ({
      v1: { samples: v1 },
      v2: { samples: v2 },
      v3: { samples: v3 },
    });
    // The first look sees the split for the first time: it settles for max(3 × 30 s, 30 s) = 90 s, whatever the counts.
    const first = run(spec, status, samples(1000, 400, 1000), T0 + MIN);
    expect(first.reasons.find((r) => r.kind === 'sample-ratio')).toMatchObject({ verdict: 'settling' });
    expect(first.action).toBe('hold');
    // The first settled look opens the period; the next judges what came since.
    const opened = run(spec, first.statusPatch, samples(2000, 1000, 2000), T0 + 3 * MIN);
    expect(opened.statusPatch.sampleRatio).toMatchObject({ since: [2000, 1000, 2000], observed: [0, 0, 0] });
    const d = run(spec, opened.statusPatch, samples(6000, 3000, 6000), T0 + 4 * MIN);
    expect(d.action).toBe('pause');
    expect(d.statusPatch.sampleRatio).toMatchObject({
      versions: ['v1', 'v2', 'v3'],
      observed: [4000, 2000, 4000],
      detected: true,
    });
    expect(d.statusPatch.message).toMatch(
      /paused on a sample ratio mismatch: sample ratio: v1 4000 \/ v2 2000 \/ v3 4000 requests/,
    );
  });

  it('weir promote gives all traffic to the leading candidate', () => {
    let status = run(spec, emptyStatus(), {}, T0).statusPatch;
    status = run(spec, status, { v3: { accuracy: [121_000, 200_000] } }, T0 + MIN).statusPatch;
    expect(status.experiment?.leader).toBe('v3');
    const d = run(spec, status, {}, T0 + 2 * MIN, [
      { id: 'p1', type: 'promote', by: 'bob', at: new Date(T0 + 2 * MIN).toISOString() },
    ]);
    expect(d.statusPatch).toMatchObject({ phase: 'Promoted', weights: { v1: 0, v2: 0, v3: 100 } });
  });
});

describe('bandit (issue 15)', () => {
  const spec = experimentSpec({ type: 'bandit', reward: 'accuracy', burnIn: 3000, sustain: '2m' });
  /** Labelled predictions per arm: `n` of them at the arm's accuracy. */
  const rewards = (n: Record<string, number>, accuracy: Record<string, number>) =>
    Object.fromEntries(
      Object.entries(n).map(([v, k]) => [v, { accuracy: [Math.round(k * accuracy[v]!), k] as [number, number] }]),
    );
  const accuracy = { v1: 0.55, v2: 0.61, v3: 0.57 };

  it('splits evenly through the burn-in, then follows P(best), keeping every arm at its floor', () => {
    let d = run(spec, emptyStatus(), {}, T0);
    expect(d.statusPatch.weights).toEqual({ v1: 34, v2: 33, v3: 33 });
    d = run(spec, d.statusPatch, rewards({ v1: 900, v2: 900, v3: 900 }, accuracy), T0 + MIN);
    expect(d.statusPatch.experiment?.adapting).toBe(false);
    expect(d.statusPatch.weights).toEqual({ v1: 34, v2: 33, v3: 33 });
    d = run(spec, d.statusPatch, rewards({ v1: 2000, v2: 2000, v3: 2000 }, accuracy), T0 + 2 * MIN);
    expect(d.action).toBe('hold');
    expect(d.statusPatch.experiment?.adapting).toBe(true);
    const w = d.statusPatch.weights!;
    expect(w.v1! + w.v2! + w.v3!).toBe(100);
    expect(w.v2).toBeGreaterThan(95);
    expect(Math.min(w.v1!, w.v3!)).toBeGreaterThanOrEqual(1);
    const arms = d.statusPatch.experiment!.arms;
    expect(arms.map((a) => a.version)).toEqual(['v1', 'v2', 'v3']);
    expect(arms[1]!.pBest).toBeGreaterThan(0.99);
    // Estimated regret: rewards × (best mean − own mean) = 2000 × (0.61 − 0.55) for v1.
    expect(arms[0]!.regret).toBeCloseTo(120, 6);
    expect(arms[1]!.regret).toBe(0);
    expect(d.statusPatch.weightHistory.at(-1)!.summary).toMatch(/^thompson: v1 \d+%, v2 \d+%, v3 \d+%/);
  });

  it('stops when the leader holds P(best) ≥ 0.95 for the sustain period, and promotes it', () => {
    let status = run(spec, emptyStatus(), {}, T0).statusPatch;
    const n = { v1: 2000, v2: 2000, v3: 2000 };
    status = run(spec, status, rewards(n, accuracy), T0 + 4 * MIN).statusPatch;
    expect(status.experiment?.leaderSince).toBe(new Date(T0 + 4 * MIN).toISOString());
    let d = run(spec, status, rewards(n, accuracy), T0 + 5 * MIN);
    expect(d.action).toBe('hold');
    expect(d.statusPatch.message).toMatch(/v2 holds P\(best\) 0\.99\d* ≥ 0\.95 for 60s of 2m/);
    d = run(spec, d.statusPatch, rewards(n, accuracy), T0 + 6 * MIN);
    expect(d.action).toBe('promote');
    expect(d.statusPatch).toMatchObject({ phase: 'Promoted', weights: { v1: 0, v2: 100, v3: 0 } });
    expect(d.statusPatch.experiment?.winner).toBe('v2');
  });

  it("exports each version's weight, P(best) and estimated regret", async () => {
    let d = run(spec, emptyStatus(), {}, T0);
    d = run(spec, d.statusPatch, rewards({ v1: 2000, v2: 2000, v3: 2000 }, accuracy), T0 + 2 * MIN);
    const metrics = new ControllerMetrics();
    const rollout = {
      apiVersion: 'weir.dev/v1alpha1',
      kind: 'ModelRollout',
      metadata: { name: 'pd', namespace: 'ns' },
      spec,
    };
    metrics.decided('ns/pd', rollout, d, true);
    const text = await metrics.registry.metrics();
    const labels = (version: string) =>
      `rollout="ns/pd",rollout_namespace="ns",model="price-direction",version="${version}"`;
    const value = (name: string, version: string) =>
      Number(new RegExp(`^${name}\\{${labels(version)}\\} (\\S+)$`, 'm').exec(text)?.[1]);
    const arms = d.statusPatch.experiment!.arms;
    for (const arm of arms) {
      expect(value('weir_experiment_weight', arm.version)).toBe(arm.weight);
      expect(value('weir_experiment_probability_best', arm.version)).toBeCloseTo(arm.pBest!, 12);
      expect(value('weir_experiment_estimated_regret', arm.version)).toBeCloseTo(arm.regret!, 9);
    }
    expect(value('weir_experiment_estimated_regret', 'v1')).toBeCloseTo(120, 6);
  });

  it('restarts the sustain period when the leader falls below the bar', () => {
    let status = run(spec, emptyStatus(), {}, T0).statusPatch;
    status = run(spec, status, rewards({ v1: 2000, v2: 2000, v3: 2000 }, accuracy), T0 + 4 * MIN).statusPatch;
    expect(status.experiment?.leaderSince).toBeDefined();
    status = run(
      spec,
      status,
      rewards({ v1: 2000, v2: 2000, v3: 2000 }, { v1: 0.55, v2: 0.57, v3: 0.57 }),
      T0 + 5 * MIN,
    ).statusPatch;
    expect(status.experiment?.leaderSince).toBeUndefined();
  });
});

describe('experiment plumbing (issue 15)', () => {
  it('routes Promoted to the winner and every other finish to the control', () => {
    const spec = experimentSpec({ type: 'abn' });
    const running = { phase: 'Progressing', stage: 0, weights: { v1: 50, v2: 25, v3: 25 } } as const;
    expect(experimentRouteOf(spec, running).weights).toEqual({ v1: 50, v2: 25, v3: 25 });
    expect(
      experimentRouteOf(spec, { ...running, phase: 'Promoted', experiment: { winner: 'v3', dropped: [], arms: [] } })
        .weights,
    ).toEqual({ v1: 0, v2: 0, v3: 100 });
    expect(experimentRouteOf(spec, { ...running, phase: 'RolledBack' }).weights).toEqual({ v1: 100, v2: 0, v3: 0 });
  });

  it('lowers exposure only when no new version gains traffic', () => {
    const at = (...weights: number[]) => ({ weights, mirrorPercent: 0 });
    expect(lowersExposure(at(34, 33, 33), at(67, 33, 0))).toBe(true);
    expect(lowersExposure(at(34, 33, 33), at(20, 70, 10))).toBe(false);
    expect(lowersExposure(at(90, 10), at(75, 25))).toBe(false);
  });

  it('corrects across the whole family: Holm over candidates × comparisons', () => {
    const spec = experimentSpec({ type: 'abn' });
    const member = (version: string, successes: number) => ({
      observations: [
        {
          name: 'accuracy',
          type: 'proportion' as const,
          stable: { successes: 600, trials: 1000 },
          canary: { successes, trials: 1000 },
        },
      ],
      sequential: {},
      version,
      reference: 'v1',
    });
    const [[v2], [v3]] = evaluateFamily(spec, [member('v2', 660), member('v3', 640)]) as [
      ComparisonOutcome[],
      ComparisonOutcome[],
    ];
    const raw = [v2!.reason.pValue!, v3!.reason.pValue!];
    expect([v2!.reason.adjustedPValue, v3!.reason.adjustedPValue]).toEqual(holm(raw, 0.05).adjusted);
    expect(v3!.reason.adjustedPValue).toBeGreaterThan(raw[1]!);
  });

  it("a bandit's sample-ratio check sums settled periods and leaves out the requests just after a split moved", () => {
    const spec = experimentSpec({ type: 'bandit', reward: 'accuracy' });
    const check = (
      previous: ReturnType<typeof checkExperimentSampleRatio>,
      weights: Record<string, number>,
      counts: number[],
      minutes: number,
    ) =>
      checkExperimentSampleRatio(
        spec,
        previous?.record,
        weights,
        { v1: counts[0], v2: counts[1], v3: counts[2] },
        T0 + minutes * MIN,
      )!;
    const even = { v1: 34, v2: 33, v3: 33 };
    // Settling (90 s from the first look), then the baseline, then judged.
    const first = check(undefined, even, [340, 330, 330], 0);
    expect(first.reason.verdict).toBe('settling');
    const baseline = check(first, even, [680, 660, 660], 2);
    expect(baseline.record).toMatchObject({ since: [680, 660, 660], observed: [0, 0, 0] });
    const second = check(baseline, even, [1020, 990, 990], 3);
    expect(second.record?.observed).toEqual([340, 330, 330]);
    expect(second.record?.expected).toEqual([340, 330, 330]);
    // The split moved by 47 points: the period ends, and the new split settles before it counts.
    const moved = { v1: 10, v2: 80, v3: 10 };
    const third = check(second, moved, [1200, 1800, 1200], 4);
    expect(third.reason.verdict).toBe('settling');
    expect(third.record?.changedAt).toBe(new Date(T0 + 4 * MIN).toISOString());
    const opened = check(third, moved, [1300, 2600, 1300], 6);
    expect(opened.record).toMatchObject({ since: [1300, 2600, 1300], observed: [0, 0, 0] });
    const fourth = check(opened, moved, [1400, 3400, 1400], 7);
    expect(fourth.record?.observed).toEqual([100, 800, 100]);
    expect(fourth.record?.expected).toEqual([100, 800, 100]);
    expect(fourth.record?.test).toBe('chi-squared');
    expect(fourth.detected).toBe(false);
    // A move of at most SETTLED_POINTS stays in the period: its requests count under the split in force.
    const nudge = { v1: 9, v2: 82, v3: 9 };
    const nudged = check(fourth, nudge, [1500, 4200, 1500], 8);
    expect(nudged.record?.observed).toEqual([200, 1600, 200]);
    expect(nudged.record?.expected).toEqual([190, 1620, 190]);
    // v1 served at four times its share in a settled period: a mismatch.
    const fifth = check(nudged, nudge, [1900, 5000, 1600], 9);
    expect(fifth.record?.observed).toEqual([600, 2400, 300]);
    expect(fifth.detected).toBe(true);
  });
});
