// The mirror stage judged by paired comparisons: the shadow and stable answered
// the same requests, so McNemar (discordant pairs) and a paired mean decide. A
// worse shadow is rolled back before it takes any user traffic; minSamplesPerStage
// counts labelled pairs.
import { describe, expect, test } from '@jest/globals';
import { emptyStatus, type RolloutStatus } from '../api/schema.js';
import type { Observations } from '../analysis/observations.js';
import { MIN, specWith, step, T0 } from './decide.test-helpers.js';

const spec = specWith({
  strategy: {
    mirror: { percent: 100, duration: '2m' },
    steps: [10, 50, 100],
    minStageDuration: '1m',
    minSamplesPerStage: 200,
    maxDuration: '2h',
  },
  analysis: {
    guardrails: [],
    comparisons: [
      { name: 'accuracy', type: 'proportion', role: 'primary', successes: 's', trials: 't', minEffect: 0.01 },
      {
        name: 'shadow-accuracy',
        type: 'paired-proportion',
        minEffect: 0.02,
        canaryOnly: 'b',
        stableOnly: 'c',
        pairs: 'n',
      },
      { name: 'shadow-brier', type: 'paired-mean', better: 'lower', count: 'n', sum: 's', sumOfSquares: 'q' },
    ],
  },
});

function paired(
  table: { canaryOnly: number; stableOnly: number; pairs: number },
  brier?: [number, number, number],
): Observations {
  const [n, sum, sumOfSquares] = brier ?? [table.pairs, 0, table.pairs * 0.01];
  return {
    samples: { stable: table.pairs, canary: 0 },
    guardrails: [],
    comparisons: [
      { name: 'accuracy', type: 'proportion' },
      { name: 'shadow-accuracy', type: 'paired-proportion', table },
      { name: 'shadow-brier', type: 'paired-mean', differences: { n, sum, sumOfSquares } },
    ],
  };
}

function mirroring(): RolloutStatus {
  const first = step(spec, emptyStatus(), paired({ canaryOnly: 0, stableOnly: 0, pairs: 1 }), T0);
  expect(first).toMatchObject({ action: 'advance', canaryWeight: 0, mirrorPercent: 100 });
  return first.statusPatch;
}

describe('the mirror stage', () => {
  test('a shadow worse on the same requests is rolled back at once, never routed', () => {
    // 40 pairs only stable got right, 10 only the shadow: McNemar χ² = 18, difference −0.03 of 1000 pairs.
    const d = step(spec, mirroring(), paired({ canaryOnly: 10, stableOnly: 40, pairs: 1000 }), T0 + 30_000);
    expect(d).toMatchObject({ action: 'rollback', canaryWeight: 0, mirrorPercent: 0 });
    expect(d.statusPatch.phase).toBe('RolledBack');
    const reason = d.reasons.find((r) => r.metric === 'shadow-accuracy')!;
    expect(reason).toMatchObject({ verdict: 'harmful', samples: { stable: 1000, canary: 1000 } });
    expect(reason.effect).toBeCloseTo(-0.03, 12);
    // The unpaired comparison is not judged in the mirror stage (the shadow serves nobody).
    expect(d.reasons.some((r) => r.metric === 'accuracy')).toBe(false);
  });

  test('an equal shadow holds until the stage time and the labelled pairs are there, then goes to 10%', () => {
    const status = mirroring();
    const early = step(spec, status, paired({ canaryOnly: 5, stableOnly: 5, pairs: 150 }), T0 + 3 * MIN);
    expect(early.action).toBe('hold');
    expect(early.statusPatch.message).toContain('labelled pairs 150 of 200');
    // Enough pairs, but the always-valid interval (±0.039 on 24 discordant of 400) still reaches past margin 0.02.
    const unproven = step(
      spec,
      early.statusPatch,
      paired({ canaryOnly: 12, stableOnly: 12, pairs: 400 }),
      T0 + 4 * MIN,
    );
    expect(unproven.action).toBe('hold');
    expect(unproven.statusPatch.message).toMatch(
      /not yet shown non-inferior: shadow-accuracy \(CI -0\.03\d+ to 0\.03\d+, margin 0\.02\)/,
    );
    const ready = step(
      spec,
      unproven.statusPatch,
      paired({ canaryOnly: 40, stableOnly: 40, pairs: 4000 }),
      T0 + 5 * MIN,
    );
    expect(ready).toMatchObject({ action: 'advance', canaryWeight: 10, mirrorPercent: 0 });
    // Traffic stages judge the unpaired comparisons only.
    expect(
      step(spec, ready.statusPatch, paired({ canaryOnly: 0, stableOnly: 0, pairs: 1 }), T0 + 7 * MIN).reasons.some(
        (r) => r.metric === 'shadow-accuracy',
      ),
    ).toBe(false);
  });

  test('no pairs at all is nodata, which holds (never a pass)', () => {
    const d = step(
      spec,
      mirroring(),
      { samples: { stable: 0, canary: 0 }, guardrails: [], comparisons: [] },
      T0 + 10 * MIN,
    );
    expect(d.action).toBe('hold');
    expect(d.statusPatch.message).toContain('shadow-accuracy nodata');
  });

  test('a paired loss that is higher for the shadow rolls it back', () => {
    // Brier differences d = shadow − stable: mean 0.05, sd ≈ 0.1 over 500 pairs: t ≈ 11.
    const n = 500;
    const d = step(
      spec,
      mirroring(),
      paired({ canaryOnly: 10, stableOnly: 10, pairs: n }, [n, 0.05 * n, n * (0.1 ** 2 * ((n - 1) / n) + 0.05 ** 2)]),
      T0 + MIN,
    );
    expect(d.action).toBe('rollback');
    expect(d.statusPatch.message).toContain('shadow-brier: harmful');
  });

  test('a shadow identical to stable: no discordant pair is too little for McNemar (insufficient: it holds); equal losses are inconclusive, not nodata', () => {
    const d = step(
      spec,
      mirroring(),
      paired({ canaryOnly: 0, stableOnly: 0, pairs: 5000 }, [5000, 0, 0]),
      T0 + 3 * MIN,
    );
    expect(d.action).toBe('hold');
    expect(d.reasons.find((r) => r.metric === 'shadow-accuracy')).toMatchObject({
      verdict: 'insufficient',
      minimum: { needed: 10, have: 0, what: 'discordant pairs' },
    });
    expect(d.reasons.find((r) => r.metric === 'shadow-brier')).toMatchObject({
      verdict: 'inconclusive',
      nonInferior: true,
    });
    // Nine discordant pairs are still too few to act on, even all on one side.
    const nine = step(spec, mirroring(), paired({ canaryOnly: 0, stableOnly: 9, pairs: 5000 }), T0 + 3 * MIN);
    expect(nine.action).toBe('hold');
    expect(nine.reasons.find((r) => r.metric === 'shadow-accuracy')).toMatchObject({ verdict: 'insufficient' });
  });

  test('the pairs gate counts pairs from the data even when a comparison has too little to judge', () => {
    const observations = paired({ canaryOnly: 3, stableOnly: 2, pairs: 150 });
    observations.comparisons[2] = { name: 'shadow-brier', type: 'paired-mean' };
    const d = step(spec, mirroring(), observations, T0 + 3 * MIN);
    expect(d.action).toBe('hold');
    expect(d.statusPatch.message).toContain('labelled pairs 0 of 200');
    const enough = paired({ canaryOnly: 3, stableOnly: 2, pairs: 150 });
    expect(step(spec, mirroring(), enough, T0 + 3 * MIN).statusPatch.message).toContain('labelled pairs 150 of 200');
  });
});

describe('blue-green (issue 15): verified on mirrored traffic, one switch, then scaleDownDelay', () => {
  const blueGreen = specWith({
    strategy: {
      mirror: { percent: 100, duration: '2m' },
      steps: [100],
      minStageDuration: '1m',
      minSamplesPerStage: 200,
      maxDuration: '2h',
      scaleDownDelay: '10m',
    },
    analysis: { guardrails: spec.analysis.guardrails, comparisons: spec.analysis.comparisons.slice(1) },
  });
  const good = () => paired({ canaryOnly: 30, stableOnly: 30, pairs: 20_000 });
  const switched = () => {
    const first = step(blueGreen, emptyStatus(), good(), T0);
    const d = step(blueGreen, first.statusPatch, good(), T0 + 3 * MIN);
    expect(d).toMatchObject({ action: 'advance', canaryWeight: 100, mirrorPercent: 0 });
    return d.statusPatch;
  };

  test('the switch to 100% happens in one step once the mirror stage passes, and stays un-promoted for scaleDownDelay', () => {
    const status = switched();
    const at100 = { samples: { stable: 0, canary: 5000 }, guardrails: [], comparisons: [] };
    const waiting = step(blueGreen, status, at100, T0 + 8 * MIN);
    expect(waiting).toMatchObject({ action: 'hold', canaryWeight: 100 });
    expect(waiting.statusPatch.message).toMatch(/stage time 300s of 600s/);
    expect(step(blueGreen, waiting.statusPatch, at100, T0 + 14 * MIN)).toMatchObject({ action: 'promote' });
  });

  test('weir abort inside scaleDownDelay switches every request back to the old version at once', () => {
    const status = switched();
    const d = step(
      blueGreen,
      status,
      { samples: { stable: 0, canary: 5000 }, guardrails: [], comparisons: [] },
      T0 + 5 * MIN,
      [{ id: 'abort-1', type: 'abort', by: 'oncall@example.com', at: new Date(T0 + 5 * MIN).toISOString() }],
    );
    expect(d).toMatchObject({ action: 'rollback', canaryWeight: 0, mirrorPercent: 0 });
    expect(d.statusPatch.history.at(-1)).toMatchObject({ action: 'rollback', by: 'oncall@example.com' });
  });
});
