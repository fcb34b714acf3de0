// The sample-ratio check of a split stage: the requests the reference version
// (stable, or the baseline) and the canary served in the stage window, against
// the weights the route gave them. PURE, like the rest of the engine.
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
 * undefined when a count is missing. With strategy.headerRoute the cohort's
 * requests reach the canary outside the weights, so the check says it is not
 * made instead of calling that a mismatch.
 */
export function checkSampleRatio(
  spec: ModelRolloutSpec,
  previous: SampleRatioRecord | undefined,
  canaryWeight: number,
  samples: Observations['samples'],
): SampleRatioCheck | undefined {
  if (samples.stable === undefined || samples.canary === undefined) return undefined;
  if (spec.strategy.headerRoute)
    return {
      detected: false,
      record: undefined,
      reason: {
        kind: 'sample-ratio',
        metric: 'requests',
        verdict: 'not-judged',
        message:
          'sample ratio: not judged, because strategy.headerRoute sends a cohort to the canary outside the weights (its requests are counted with the rest)',
      },
    };
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
  return {
    detected,
    record,
    reason: {
      kind: 'sample-ratio',
      metric: 'requests',
      verdict: detected ? 'mismatch' : result ? 'ok' : 'insufficient',
      message: describeSampleRatio(record, threshold),
      ...(pValue !== undefined ? { pValue } : {}),
      threshold,
      samples: { stable: period[0]!, canary: period[1]! },
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
  const split = `${versions[0]} ${observed[0]} / ${versions[1]} ${observed[1]} requests at weights ${weights.join('/')}`;
  if (pValue === undefined)
    return `sample ratio: ${split}; judged once every version expects ${SRM_MIN_EXPECTED} requests`;
  return `sample ratio: ${split} (expected ${expected.map((e) => Math.round(e)).join('/')}): ${test} p = ${formatNumber(pValue)}${record.detected ? ` < ${threshold}: traffic does not follow the weights, so comparisons of these versions cannot be trusted` : ''}`;
}
