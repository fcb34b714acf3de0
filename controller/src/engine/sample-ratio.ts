// The sample-ratio check of a split stage: the requests the reference version
// (stable, or the baseline) and the canary served in the stage window, against
// the weights the route gave them. PURE, like the rest of the engine.
import { parseDuration } from '../../../shared/duration.js';
import { formatNumber } from '../../../shared/format.js';
import type { ModelRolloutSpec, Reason, RolloutStatus } from '../api/schema.js';
import type { Observations } from '../analysis/observations.js';
import { sampleRatioMismatch, sequentialSampleRatio, SRM_MIN_EXPECTED } from '../stats/sample-ratio.js';

export type SampleRatioRecord = NonNullable<RolloutStatus['sampleRatio']>;

export interface SampleRatioCheck {
  /** Undefined when the check cannot be made (a header route sends a cohort outside the weights). */
  record: SampleRatioRecord | undefined;
  reason: Reason;
  detected: boolean;
}

/**
 * Judges the stage window's request counts (less those before a resume, which
 * start a new period) against the weights in force: the canary's weight, and
 * the reference's (the baseline's equal share, or stable's 100 − weight).
 * Conditional on their sum, two versions' counts are binomial in their weights,
 * so the two are judged alone even when a third version takes traffic. Returns
 * undefined when a count is missing. With strategy.headerRoute (or sticky
 * users, strategy.stickiness) requests reach versions outside the weights, so
 * the check says it is not made instead of calling that a mismatch.
 */
export function checkSampleRatio(
  spec: ModelRolloutSpec,
  previous: SampleRatioRecord | undefined,
  canaryWeight: number,
  samples: Observations['samples'],
): SampleRatioCheck | undefined {
  if (samples.stable === undefined || samples.canary === undefined) return undefined;
  if (spec.strategy.headerRoute || spec.strategy.stickiness) return notJudged(spec);
  const versions = [(spec.baseline ?? spec.stable).version, spec.canary.version];
  const weights = [spec.baseline ? canaryWeight : 100 - canaryWeight, canaryWeight];
  // increase() extrapolates, so counts arrive fractional.
  const counts = [samples.stable, samples.canary].map((c) => Math.max(0, Math.round(c)));
  const since = previous?.since;
  const period = counts.map((c, i) => Math.max(0, c - (since?.[i] ?? 0)));
  const result = sampleRatioMismatch([{ counts: period, weights }]);
  const { threshold, test } = spec.analysis.sampleRatio;
  // The sequential p-value is the running minimum over this period's looks; χ² is read afresh each look.
  const sequentialP = result ? sequentialSampleRatio(period, weights, previous?.sequentialP).pValue : undefined;
  const pValue = test === 'sequential' ? sequentialP : result?.pValue;
  const detected = pValue !== undefined && pValue < threshold;
  const record: SampleRatioRecord = {
    test,
    versions,
    weights,
    observed: period,
    expected: result ? result.expected : [],
    ...(pValue !== undefined ? { pValue } : {}),
    ...(result ? { chiSquaredP: result.pValue } : {}),
    ...(sequentialP !== undefined ? { sequentialP } : {}),
    detected,
    counts,
    ...(since ? { since } : {}),
  };
  return checkOf(record, result !== undefined, threshold, { samples: { stable: period[0]!, canary: period[1]! } });
}

/** A check's result from its record: the reason says what it found. */
function checkOf(record: SampleRatioRecord, judged: boolean, threshold: number, extra: Partial<Reason> = {}) {
  const { detected, pValue } = record;
  return {
    detected,
    record,
    reason: {
      kind: 'sample-ratio',
      metric: 'requests',
      verdict: detected ? 'mismatch' : judged ? 'ok' : 'insufficient',
      message: describeSampleRatio(record, threshold),
      ...(pValue !== undefined ? { pValue } : {}),
      threshold,
      ...extra,
    },
  } satisfies SampleRatioCheck;
}

/** No check for a rollout whose traffic is not assigned by the weights alone: a cohort route, or sticky users. */
function notJudged(spec: ModelRolloutSpec): SampleRatioCheck {
  const why = spec.strategy.headerRoute
    ? 'strategy.headerRoute sends a cohort to the canary outside the weights'
    : "strategy.stickiness keeps each user on the version first given, so a version's share of requests drifts from its weight as users return";
  return {
    detected: false,
    record: undefined,
    reason: {
      kind: 'sample-ratio',
      metric: 'requests',
      verdict: 'not-judged',
      message: `sample ratio: not judged, because ${why} (its requests are counted with the rest)`,
    },
  };
}

/** After `weir resume`, a new period starts from the counts seen at the mismatch, so it is judged afresh. */
export function restartSampleRatio(record: SampleRatioRecord | undefined): SampleRatioRecord | undefined {
  if (!record?.detected) return record;
  const { pValue: _p, chiSquaredP: _chi, sequentialP: _seq, ...rest } = record;
  return { ...rest, detected: false, observed: [0, 0], expected: [], since: record.counts };
}

/** One line on a check: the counts against the weights, and what they mean. */
export function describeSampleRatio(record: SampleRatioRecord, threshold: number): string {
  const { versions, observed, weights, expected, pValue, test } = record;
  const split = `${versions.map((v, i) => `${v} ${Math.round(observed[i]!)}`).join(' / ')} requests at weights ${weights.join('/')}`;
  if (pValue === undefined)
    return `sample ratio: ${split}; judged once every version expects ${SRM_MIN_EXPECTED} requests${versions.length > 2 ? ' in periods of a steady split' : ''}`;
  return `sample ratio: ${split} (expected ${expected.map((e) => Math.round(e)).join('/')}): ${test} p = ${formatNumber(pValue)}${record.detected ? ` < ${threshold}: traffic does not follow the weights, so comparisons of these versions cannot be trusted` : ''}`;
}

/** The most a split may move between looks (total variation, in points) and still count as the same split. */
export const SETTLED_POINTS = 5;

/** How long after a split changes its requests are left out: the route, the scrapes and increase() all lag. */
export function settleMs(spec: ModelRolloutSpec): number {
  return Math.max(3 * parseDuration(spec.analysis.interval), 30_000);
}

/**
 * An experiment's sample-ratio check over every version in play, in periods.
 * - A period starts once the split has held (moved by at most SETTLED_POINTS)
 *   for settleMs: the route, Prometheus's scrapes and increase()'s windows all
 *   lag a change, so requests served under the old split would otherwise be
 *   counted under the new one. The counts at that look are its baseline.
 * - Each later look's new requests were served under the split in force since
 *   the look before, so they are added to the observed counts, and their
 *   expectation under that split to the expected ones. One χ² goodness of fit
 *   judges the sums (GrowthBook's multi-period SRM for bandits).
 * - A move of more than SETTLED_POINTS ends the period.
 * A fixed split (A/B/n) is judged by the spec's test; a bandit's moving split
 * by χ², since the sequential test assumes one split per period.
 */
export function checkExperimentSampleRatio(
  spec: ModelRolloutSpec,
  previous: SampleRatioRecord | undefined,
  inForce: Record<string, number>,
  samples: Record<string, number | undefined>,
  now: number,
): SampleRatioCheck | undefined {
  const versions = Object.keys(inForce);
  if (versions.some((v) => samples[v] === undefined)) return undefined;
  if (spec.strategy.stickiness) return notJudged(spec);
  const counts = versions.map((v) => Math.max(0, Math.round(samples[v]!)));
  const weights = versions.map((v) => inForce[v]!);
  const same = (a: readonly unknown[] | undefined, b: readonly unknown[]) =>
    a !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
  const continuing = previous !== undefined && same(previous.versions, versions);
  const moved = continuing ? weights.reduce((sum, w, i) => sum + Math.abs(w - (previous.weights[i] ?? 0)), 0) / 2 : 100;
  const changedAt =
    moved > SETTLED_POINTS ? new Date(now).toISOString() : (previous?.changedAt ?? new Date(now).toISOString());
  const settledAt = Date.parse(changedAt) + settleMs(spec);
  const { threshold } = spec.analysis.sampleRatio;
  const bandit = spec.strategy.experiment?.type === 'bandit';
  const test = bandit ? 'chi-squared' : spec.analysis.sampleRatio.test;
  const zeros = versions.map(() => 0);
  const base = { test, versions, weights, counts, changedAt, detected: false };
  if (now < settledAt) {
    const record: SampleRatioRecord = { ...base, observed: zeros, expected: zeros };
    return {
      detected: false,
      record,
      reason: {
        kind: 'sample-ratio',
        metric: 'requests',
        verdict: 'settling',
        message: `sample ratio: the split ${weights.join('/')} took effect at ${changedAt}; judged from ${new Date(settledAt).toISOString()} on, once the route and the scrapes have caught up`,
        threshold,
      },
    };
  }
  if (previous?.since === undefined || moved > SETTLED_POINTS) {
    // The first settled look: its counts are the baseline of the period.
    const record: SampleRatioRecord = { ...base, observed: zeros, expected: zeros, since: counts };
    return checkOf(record, false, threshold);
  }
  const observed = previous.observed.length === versions.length ? [...previous.observed] : [...zeros];
  const expected = previous.expected.length === versions.length ? [...previous.expected] : [...zeros];
  const delta = counts.map((c, i) => Math.max(0, c - (previous.counts[i] ?? 0)));
  const total = delta.reduce((a, b) => a + b, 0);
  const weightSum = weights.reduce((a, b) => a + b, 0);
  delta.forEach((d, i) => {
    observed[i]! += d;
    expected[i]! += weightSum > 0 ? (total * weights[i]!) / weightSum : 0;
  });
  const result = sampleRatioMismatch([{ counts: observed, weights: expected }]);
  // The sequential test holds for one fixed split: an A/B/n's, between its drops.
  const live = versions.map((_, i) => i).filter((i) => weights[i]! > 0);
  const sequentialP =
    !bandit && result && observed.every((o, i) => weights[i]! > 0 || o === 0)
      ? sequentialSampleRatio(
          live.map((i) => observed[i]!),
          live.map((i) => weights[i]!),
          previous.sequentialP,
        ).pValue
      : undefined;
  const pValue = test === 'sequential' ? (sequentialP ?? result?.pValue) : result?.pValue;
  const detected = pValue !== undefined && pValue < threshold;
  const record: SampleRatioRecord = {
    ...base,
    observed,
    expected,
    since: previous.since,
    ...(pValue !== undefined ? { pValue } : {}),
    ...(result ? { chiSquaredP: result.pValue } : {}),
    ...(sequentialP !== undefined ? { sequentialP } : {}),
    detected,
  };
  return checkOf(record, result !== undefined, threshold);
}
