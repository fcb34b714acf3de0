// Champion vs challenger for every comparison of one evaluation: the
// sequential test chosen in the spec (state carried in status, reset per
// stage), Holm across metrics, and a verdict with its numbers.
import { isPaired, type Comparison, type ModelRolloutSpec, type Reason } from '../api/schema.js';
import type { ComparisonObservation } from '../analysis/observations.js';
import { nextBoundary, type SpendingState } from '../stats/alpha-spending.js';
import { holm } from '../stats/holm.js';
import { mannWhitneyHistogram } from '../stats/mann-whitney-histogram.js';
import { pairedProportionTest } from '../stats/mcnemar.js';
import { pairedMeanTest } from '../stats/paired-mean.js';
import { initialMsprtState, msprt, type MsprtState } from '../stats/msprt.js';
import { sampleSizeMean, sampleSizeProportion } from '../stats/sample-size.js';
import { twoSidedNormalP } from '../stats/distributions.js';

/** Smallest growth in information fraction that earns a new alpha-spending look. */
export const MIN_LOOK_STEP = 0.05;

/**
 * better: significantly better by at least minEffect. harmful: significantly
 * worse by more than minEffect (rolls back). worse: significantly worse and the
 * interval still reaches past minEffect (blocks advancing). negligible:
 * significantly worse, but the whole interval lies within minEffect: real but
 * too small to matter, so it does not block. insufficient: fewer samples than
 * the test's approximation needs (EVIDENCE_MINIMUMS); it neither acts nor lets
 * the stage end.
 */
export type ComparisonVerdict =
  'better' | 'worse' | 'harmful' | 'negligible' | 'inconclusive' | 'insufficient' | 'nodata';

/**
 * The least evidence per arm before a comparison may act, from the large-sample
 * approximation each test rests on:
 * - proportion (two-proportion z): at least 10 expected successes and 10
 *   expected failures per arm at the pooled rate (the success–failure
 *   condition; OpenIntro Statistics, 4th ed., §6.2.1);
 * - mean (Welch's t on moments): 30 per arm, the usual bar for the central
 *   limit theorem on a skewed metric;
 * - histogram (Mann–Whitney's normal approximation): 20 per arm (Siegel &
 *   Castellan 1988, §6.4: the approximation holds for n > 20 per sample);
 * - paired-proportion (McNemar): 10 discordant pairs (b + c ≥ 10, the usual
 *   condition for its chi-squared and normal approximations);
 * - paired-mean (paired t): 30 pairs.
 */
export const EVIDENCE_MINIMUMS = {
  proportion: 10,
  mean: 30,
  histogram: 20,
  'paired-proportion': 10,
  'paired-mean': 30,
} as const satisfies Record<Comparison['type'], number>;

/** What each minimum counts. */
export const EVIDENCE_WHAT = {
  proportion: 'expected successes and failures in the smaller arm',
  mean: 'samples in the smaller arm',
  histogram: 'samples in the smaller arm',
  'paired-proportion': 'discordant pairs',
  'paired-mean': 'pairs',
} as const satisfies Record<Comparison['type'], string>;

export interface ComparisonOutcome {
  name: string;
  role: Comparison['role'];
  verdict: ComparisonVerdict;
  /** Whether the interval shows the canary is not worse than the comparison's margin: the stage gate. */
  nonInferior: boolean;
  reason: Reason;
  /** Sequential state to carry to the next evaluation of this stage. */
  state: Record<string, unknown> | undefined;
}

/** A difference canary − stable on a scale where a normal approximation holds, with its variance. */
interface Estimate {
  difference: number;
  variance: number;
  samples: { stable: number; canary: number };
  /** Mixing scale when minEffect is 0, in the same units as the difference. */
  defaultTau: number;
  /** Samples per arm for the planned power at minEffect (alpha-spending information fraction). */
  plannedPerArm: number | undefined;
  /** How much of the evidence its test's approximation rests on there is (see EVIDENCE_MINIMUMS and EVIDENCE_WHAT). */
  evidence: number;
  /** Where the difference can lie at all (a difference of proportions in [−1, 1]); intervals are cut to it. */
  range?: [number, number];
}

function estimate(
  comparison: Comparison,
  observation: ComparisonObservation | undefined,
  spec: ModelRolloutSpec,
): Estimate | undefined {
  const { alpha, power } = spec.analysis;
  if (!observation) return undefined;
  if (observation.type === 'proportion' && observation.stable && observation.canary) {
    const { stable: s, canary: c } = observation;
    const ps = s.successes / s.trials;
    const pc = c.successes / c.trials;
    const variance = (ps * (1 - ps)) / s.trials + (pc * (1 - pc)) / c.trials;
    const mde = comparison.minEffect * (comparison.better === 'higher' ? 1 : -1);
    const planned =
      comparison.minEffect > 0 && ps > 0 && ps < 1 && ps + mde > 0 && ps + mde < 1
        ? sampleSizeProportion(ps, mde, alpha, power).perArm
        : undefined;
    const pooled = (s.successes + c.successes) / (s.trials + c.trials);
    return {
      difference: pc - ps,
      variance,
      samples: { stable: s.trials, canary: c.trials },
      defaultTau: 0.02,
      plannedPerArm: planned,
      range: [-1, 1],
      evidence: Math.min(s.trials, c.trials) * Math.min(pooled, 1 - pooled),
    };
  }
  if (observation.type === 'mean' && observation.stable && observation.canary) {
    const { stable: s, canary: c } = observation;
    const variance = (s.sd * s.sd) / s.n + (c.sd * c.sd) / c.n;
    const pooledSd = Math.sqrt((s.sd * s.sd + c.sd * c.sd) / 2);
    const planned =
      comparison.minEffect > 0 && pooledSd > 0
        ? sampleSizeMean(pooledSd, comparison.minEffect, alpha, power).perArm
        : undefined;
    return {
      difference: c.mean - s.mean,
      variance,
      samples: { stable: s.n, canary: c.n },
      defaultTau: Math.max(pooledSd * 0.1, 1e-12),
      plannedPerArm: planned,
      evidence: Math.min(s.n, c.n),
    };
  }
  if (observation.type === 'histogram' && observation.bounds && observation.stable && observation.canary) {
    const resolution = comparison.type === 'histogram' ? comparison.resolution : undefined;
    const { bounds, stable, canary } = atResolution(
      { bounds: observation.bounds, stable: observation.stable, canary: observation.canary },
      resolution,
    );
    const r = mannWhitneyHistogram(bounds, { cumulative: stable }, { cumulative: canary });
    // On the probability-of-superiority scale: U/(ns·nc) − 1/2, whose variance follows from Var(U).
    const { stable: ns, canary: nc } = r.samples;
    const difference = r.probabilityCanaryHigher - 0.5;
    const zScale = r.z === 0 ? undefined : Math.abs((r.u - (ns * nc) / 2) / r.z);
    const variance = zScale === undefined ? (ns + nc + 1) / (12 * ns * nc) : (zScale / (ns * nc)) ** 2;
    return {
      difference,
      variance,
      samples: r.samples,
      defaultTau: 0.05,
      plannedPerArm: undefined,
      range: [-0.5, 0.5],
      evidence: Math.min(ns, nc),
    };
  }
  if (observation.type === 'paired-proportion' && observation.table) {
    // McNemar: only discordant pairs carry information; the Wald variance of the paired difference.
    const r = pairedProportionTest(observation.table, alpha);
    const n = observation.table.pairs;
    return {
      difference: r.difference,
      // No discordant pair (b = c = 0: a shadow identical to stable) is evidence of no difference,
      // not missing data: floored at half a discordant pair's worth, so it reads as inconclusive.
      variance: Math.max(r.variance, 1 / (4 * n * n)),
      samples: { stable: n, canary: n },
      defaultTau: 0.02,
      plannedPerArm: undefined,
      range: [-1, 1],
      evidence: observation.table.canaryOnly + observation.table.stableOnly,
    };
  }
  if (observation.type === 'paired-mean' && observation.differences) {
    const r = pairedMeanTest(observation.differences, alpha);
    const n = observation.differences.n;
    return {
      difference: r.difference,
      // Identical per-pair differences (sd 0) are data too: a zero difference reads as inconclusive,
      // a constant nonzero one as significant.
      variance: Math.max(r.variance, (Number.EPSILON * Math.max(1, Math.abs(r.difference))) ** 2),
      samples: { stable: n, canary: n },
      defaultTau: Math.max(r.sd * 0.1, 1e-12),
      plannedPerArm:
        comparison.minEffect > 0 && r.sd > 0
          ? sampleSizeMean(r.sd / Math.SQRT2, comparison.minEffect, alpha, power).perArm
          : undefined,
      evidence: n,
    };
  }
  return undefined;
}

/**
 * The histograms with every bucket up to the first bound at or above
 * `resolution` merged into one: a cumulative count at a bound below it is
 * dropped, so what lay below falls into that first bucket and ties. Without a
 * resolution, or when no bound reaches it, the histograms are unchanged.
 */
export function atResolution(
  h: { bounds: number[]; stable: number[]; canary: number[] },
  resolution: number | undefined,
): { bounds: number[]; stable: number[]; canary: number[] } {
  if (resolution === undefined) return h;
  const first = h.bounds.findIndex((b) => b >= resolution);
  if (first <= 0) return h;
  return { bounds: h.bounds.slice(first), stable: h.stable.slice(first), canary: h.canary.slice(first) };
}

/**
 * An interval cut to where the difference can lie: the true difference is
 * always inside `range`, so the cut keeps the interval's coverage (a Wald
 * interval on 26 labels reached −1.18 for a difference of proportions).
 */
function within(ci: [number, number], range: [number, number] | undefined): [number, number] {
  return range ? [Math.max(ci[0], range[0]), Math.min(ci[1], range[1])] : ci;
}

interface Tested {
  comparison: Comparison;
  estimate: Estimate;
  ci: [number, number];
  pValue: number;
  /** Whether a spending boundary was crossed (alpha-spending mode only). */
  crossed: boolean | undefined;
  /** The boundary at this look: alpha for mSPRT's p-value, the |z| to cross for alpha spending. */
  boundary: number;
  state: Record<string, unknown>;
}

/** Runs every comparison's sequential test on this look, Holm-adjusts across them, and classifies each (better, worse, harmful, negligible, inconclusive, nodata). */
export function evaluateComparisons(
  spec: ModelRolloutSpec,
  observations: ComparisonObservation[],
  sequential: Record<string, Record<string, unknown>>,
  /** 'paired' in the mirror stage (shadow vs stable on the same requests), 'split' while traffic is split. */
  kind: 'paired' | 'split' = 'split',
): ComparisonOutcome[] {
  // Split comparisons judge the canary against the baseline when there is one; paired ones, against stable.
  const reference = spec.baseline && kind === 'split' ? 'baseline' : 'stable';
  return evaluateFamily(spec, [{ observations, sequential, version: 'canary', reference }], kind)[0]!;
}

/** One member of a family of comparisons: a version judged against a reference on every comparison. */
export interface FamilyMember {
  observations: ComparisonObservation[];
  /** This member's sequential state, by comparison name. */
  sequential: Record<string, Record<string, unknown>>;
  /** How messages name the two: "<version> − <reference>". */
  version: string;
  reference: string;
}

/**
 * Every comparison of every member (an experiment's candidates, each against
 * the control) on this look, with one correction across the whole family of
 * members × comparisons: Holm on the always-valid p-values (mSPRT), or
 * Bonferroni's alpha / (members × comparisons) per boundary (alpha spending).
 * A single member is a rollout's canary against its reference. Outcomes come
 * back per member, in the spec's comparison order.
 */
export function evaluateFamily(
  spec: ModelRolloutSpec,
  members: FamilyMember[],
  kind: 'paired' | 'split' = 'split',
): ComparisonOutcome[][] {
  const { alpha } = spec.analysis;
  const tested: (Tested & { member: number })[] = [];
  const outcomes = members.map(() => new Map<string, ComparisonOutcome>());
  const judged = spec.analysis.comparisons.filter((c) => isPaired(c) === (kind === 'paired'));
  const m = judged.length * members.length;
  members.forEach((member, index) => {
    const { sequential, reference, version } = member;
    for (const comparison of judged) {
      const est = estimate(
        comparison,
        member.observations.find((o) => o.name === comparison.name),
        spec,
      );
      if (!est || !(est.variance > 0)) {
        outcomes[index]!.set(comparison.name, {
          name: comparison.name,
          role: comparison.role,
          verdict: 'nodata',
          nonInferior: false,
          reason: {
            kind: 'comparison',
            metric: comparison.name,
            verdict: 'nodata',
            message: `${comparison.name}: not enough data in both versions to compare${members.length > 1 ? ` (${version} against ${reference})` : ''}`,
          },
          state: sequential[comparison.name],
        });
        continue;
      }
      const needed = EVIDENCE_MINIMUMS[comparison.type];
      if (est.evidence < needed) {
        // Too little for the test's approximation: no look is taken, nothing acts, the stage waits.
        const have = Math.floor(est.evidence * 10) / 10;
        const what = EVIDENCE_WHAT[comparison.type];
        outcomes[index]!.set(comparison.name, {
          name: comparison.name,
          role: comparison.role,
          verdict: 'insufficient',
          nonInferior: false,
          reason: {
            kind: 'comparison',
            metric: comparison.name,
            verdict: 'insufficient',
            message: `${comparison.name}: insufficient evidence, ${have} ${what} of the ${needed} its test needs (${version} − ${reference} ${est.difference.toPrecision(3)} so far, n ${est.samples.stable}/${est.samples.canary})`,
            effect: est.difference,
            samples: est.samples,
            minimum: { needed, have, what },
          },
          state: sequential[comparison.name],
        });
        continue;
      }
      const tau = comparison.tau ?? (comparison.minEffect > 0 ? comparison.minEffect : est.defaultTau);
      if (spec.analysis.sequential === 'msprt') {
        const previous = (sequential[comparison.name] as MsprtState | undefined) ?? initialMsprtState();
        const r = msprt(previous, { difference: est.difference, variance: est.variance }, tau, alpha);
        tested.push({
          member: index,
          comparison,
          estimate: est,
          ci: within(r.ci, est.range),
          pValue: r.pValue,
          crossed: undefined,
          boundary: alpha,
          state: { looks: r.looks, pValue: r.pValue, ci: r.ci },
        });
      } else {
        // Alpha spending: Bonferroni across the family (alpha/m each), information
        // fraction from the planned sample size (or minSamplesPerStage when none).
        const previous = (sequential[comparison.name] as SpendingState | undefined) ?? { looks: [] };
        const planned = est.plannedPerArm ?? Math.max(1, spec.strategy.minSamplesPerStage);
        const last = previous.looks.at(-1)?.fraction ?? 0;
        const fraction = Math.min(1, Math.min(est.samples.stable, est.samples.canary) / planned);
        const z = est.difference / Math.sqrt(est.variance);
        let crossed = false;
        let state: SpendingState = previous;
        // Looks are thinned to information steps of at least MIN_LOOK_STEP (at most
        // 1/MIN_LOOK_STEP looks per stage), as group-sequential designs plan them:
        // each boundary integrates over every earlier look.
        if (fraction >= Math.min(1, last + MIN_LOOK_STEP) && fraction > last) {
          const look = nextBoundary(spec.analysis.sequential, alpha / Math.max(1, m), previous, fraction);
          state = look.state;
          crossed = Math.abs(z) >= look.boundary;
        }
        const boundary = state.looks.at(-1)?.boundary ?? Infinity;
        const half = boundary * Math.sqrt(est.variance);
        tested.push({
          member: index,
          comparison,
          estimate: est,
          ci: within([est.difference - half, est.difference + half], est.range),
          pValue: twoSidedNormalP(z),
          crossed,
          boundary,
          state: state as unknown as Record<string, unknown>,
        });
      }
    }
  });
  const adjusted =
    spec.analysis.sequential === 'msprt'
      ? holm(
          tested.map((t) => t.pValue),
          alpha,
        ).adjusted
      : tested.map((t) => t.pValue);
  tested.forEach((t, i) => {
    const { comparison, estimate: est } = t;
    const { version, reference } = members[t.member]!;
    const significant = t.crossed ?? adjusted[i]! <= alpha;
    // The effect the verdict weighs: this look's estimate, moved into the interval. mSPRT's
    // interval is the running intersection over the stage's looks, so when the effect drifts
    // it can exclude this look's estimate; a value outside it is not a plausible effect, and a
    // verdict on it contradicted its own interval ("harmful, 0.251 (CI 0.173 to 0.212)").
    const effect = Math.min(Math.max(est.difference, t.ci[0]), t.ci[1]);
    const good = comparison.better === 'higher' ? effect > 0 : effect < 0;
    const magnitude = Math.abs(effect);
    let verdict: ComparisonVerdict = 'inconclusive';
    if (significant && good && magnitude >= comparison.minEffect) verdict = 'better';
    else if (significant && !good) {
      // How bad it could be, at the far end of the interval on the bad side.
      const worstCase = comparison.better === 'higher' ? -t.ci[0] : t.ci[1];
      verdict =
        magnitude > comparison.minEffect
          ? 'harmful'
          : comparison.minEffect > 0 && worstCase <= comparison.minEffect
            ? 'negligible'
            : 'worse';
    }
    const p = adjusted[i]!;
    // The stage gate: the bad-side end of the always-valid interval lies within the margin.
    const margin = marginOf(comparison, est);
    const nonInferior = comparison.better === 'higher' ? t.ci[0] > -margin : t.ci[1] < margin;
    const message = `${comparison.name}: ${verdict}, ${version} − ${reference} ${est.difference.toPrecision(3)} (CI ${t.ci[0].toPrecision(3)} to ${t.ci[1].toPrecision(3)}), p ${p.toPrecision(3)}, n ${est.samples.stable}/${est.samples.canary}`;
    outcomes[t.member]!.set(comparison.name, {
      name: comparison.name,
      role: comparison.role,
      verdict,
      nonInferior,
      reason: {
        kind: 'comparison',
        metric: comparison.name,
        verdict,
        message,
        effect: est.difference,
        ci: t.ci.map((v) => (Number.isFinite(v) ? v : v > 0 ? Number.MAX_VALUE : -Number.MAX_VALUE)),
        pValue: t.pValue,
        adjustedPValue: p,
        z: est.difference / Math.sqrt(est.variance),
        ...(Number.isFinite(t.boundary) ? { boundary: t.boundary } : {}),
        samples: est.samples,
        margin,
        nonInferior,
        minimum: {
          needed: EVIDENCE_MINIMUMS[comparison.type],
          have: est.evidence,
          what: EVIDENCE_WHAT[comparison.type],
        },
      },
      state: t.state,
    });
  });
  return outcomes.map((byName) => judged.map((c) => byName.get(c.name)!));
}

/** The stage gate's margin as the spec sets it: `margin`, else minEffect when above 0; undefined: the type's scale. */
export function specMargin(comparison: Comparison): number | undefined {
  return comparison.margin ?? (comparison.minEffect > 0 ? comparison.minEffect : undefined);
}

/** The non-inferiority margin of the stage gate: specMargin, else the type's scale (the mSPRT's default mixing scale). */
function marginOf(comparison: Comparison, est: Estimate): number {
  return specMargin(comparison) ?? est.defaultTau;
}
