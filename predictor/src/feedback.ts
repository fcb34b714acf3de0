// Ground truth for earlier predictions: decoding a feedback body, and scoring
// one version's prediction (and a pair of versions' predictions of the same
// request) against it. Pure: the prediction log and the endpoint do the I/O.
//
// Values are bounded (--max-feedback-value, at most 1e100), so no sum or sum
// of squares can reach ±Infinity.
import { RequestError, shown } from '../../shared/errors.js';
import type { LoggedPrediction } from './prediction-log/log.js';
import type { ModelTask } from './task.js';

export interface FeedbackItem {
  id: string;
  /** The true class (classification) or value (regression), per row. */
  labels: number[];
  /** Business value per row, given by the caller. */
  values: number[] | undefined;
  /** Realized return per row; value = return when the prediction was the positive class, -return otherwise. */
  returns: number[] | undefined;
}

/** One row of one version's prediction, scored. */
export interface ScoredRow {
  predicted: number;
  actual: number;
  /** Classification: the predicted class is the true one. Regression: undefined. */
  correct: boolean | undefined;
  /** Classification: (p − y)² with y = 1 for the positive class (undefined without a probability). Regression: (ŷ − y)². */
  loss: number | undefined;
  value: number | undefined;
}

export type Rejection = 'unknown' | 'expired' | 'invalid' | 'mismatch' | 'unavailable';
export const REJECTION_STATUS: Record<Rejection, number> = {
  unknown: 404,
  expired: 410,
  invalid: 400,
  mismatch: 422,
  unavailable: 503,
};

/** Whether a prediction can still take its label: made less than the feedback TTL ago. */
export const isLive = (prediction: LoggedPrediction, ttlMs: number, now: number): boolean =>
  prediction.at + ttlMs > now;

/** Why an item cannot be scored against these predictions, or undefined when it can. */
export function checkItem(
  item: FeedbackItem,
  predictions: LoggedPrediction[] | undefined,
  ttlMs: number,
  now: number,
): { rejection: Rejection; message: string } | undefined {
  const id = JSON.stringify(item.id);
  if (!predictions || predictions.length === 0)
    return {
      rejection: 'unknown',
      message: `id ${id}: no prediction with this id is logged (never made, or gone long after its feedback TTL)`,
    };
  if (!predictions.some((p) => isLive(p, ttlMs, now)))
    return {
      rejection: 'expired',
      message: `id ${id}: the prediction expired; feedback must arrive within ${ttlMs} ms (--feedback-ttl)`,
    };
  const rows = predictions[0]!.outputs.length;
  // Every version scored must have predicted the same rows (one request, one input): a reused id
  // whose predictions differ cannot be scored row by row.
  const other = predictions.find((p) => p.outputs.length !== rows);
  if (other)
    return {
      rejection: 'mismatch',
      message: `id ${id}: ${predictions[0]!.version} predicted ${rows} rows under this id but ${other.version} ${other.outputs.length}; it cannot be scored`,
    };
  for (const [field, list] of [
    ['label', item.labels],
    ['value', item.values],
    ['return', item.returns],
  ] as const) {
    if (list && list.length !== rows) {
      return {
        rejection: 'mismatch',
        message: `id ${id}: ${field} has ${list.length} entries, but the prediction had ${rows} rows`,
      };
    }
  }
  return undefined;
}

/** One version's prediction scored row by row against an item already checked. */
export function scoreRows(task: ModelTask, prediction: LoggedPrediction, item: FeedbackItem): ScoredRow[] {
  return prediction.outputs.map((predicted, i) => {
    const actual = item.labels[i]!;
    if (task.type === 'regression')
      return { predicted, actual, correct: undefined, loss: (predicted - actual) ** 2, value: item.values?.[i] };
    const p = prediction.probabilities?.[i];
    const y = actual === task.positive ? 1 : 0;
    const realized = item.returns?.[i];
    const value =
      item.values?.[i] ?? (realized === undefined ? undefined : predicted === task.positive ? realized : -realized);
    return {
      predicted,
      actual,
      correct: predicted === actual,
      loss: p === undefined ? undefined : (p - y) ** 2,
      value,
    };
  });
}

export type PairOutcome = 'both_correct' | 'version_only' | 'baseline_only' | 'neither';

/** The outcome of one row for a version against a baseline that predicted the same request. */
export function pairOutcome(version: ScoredRow, baseline: ScoredRow): PairOutcome | undefined {
  if (version.correct === undefined || baseline.correct === undefined) return undefined;
  if (version.correct) return baseline.correct ? 'both_correct' : 'version_only';
  return baseline.correct ? 'baseline_only' : 'neither';
}

function numbers(value: unknown, field: string, check: (n: number) => boolean, expected: string): number[] | undefined {
  if (value === undefined) return undefined;
  const list = Array.isArray(value) ? value : [value];
  list.forEach((n, i) => {
    if (typeof n !== 'number' || !check(n)) {
      throw new RequestError(400, `${field}${Array.isArray(value) ? `[${i}]` : ''}: ${shown(n)} is not ${expected}`);
    }
  });
  return list as number[];
}

export interface FeedbackLimits {
  /** Largest |value| or |return| accepted. */
  maxAbsValue: number;
  /** Most items in one request. */
  maxItems: number;
}

/** Decodes a feedback body: one {"id", "label", "value"?, "return"?} or a list of them. Throws a 400 naming the first bad field. */
export function decodeFeedback(
  body: unknown,
  task: ModelTask,
  limits: FeedbackLimits = { maxAbsValue: 1e9, maxItems: 10_000 },
): FeedbackItem[] {
  const list = Array.isArray(body) ? body : [body];
  if (list.length === 0) throw new RequestError(400, 'feedback: the list is empty; expected {"id", "label"} objects');
  if (list.length > limits.maxItems)
    throw new RequestError(400, `feedback: ${list.length} items; at most ${limits.maxItems} per request`);
  const bounded = (n: number) => Number.isFinite(n) && Math.abs(n) <= limits.maxAbsValue;
  const within = `a finite number from −${limits.maxAbsValue} to ${limits.maxAbsValue} (--max-feedback-value)`;
  const classes = task.type === 'classification' ? task.classes : undefined;
  const expected = classes ? classes.join(' | ') : 'number';
  const isLabel = classes ? (n: number) => classes.includes(n) : bounded;
  const labelKind = classes ? `a class label (${classes.join(' or ')})` : `the true value, ${within}`;
  const seen = new Set<string>();
  return list.map((entry, index) => {
    const field = Array.isArray(body) ? `[${index}]` : '';
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw new RequestError(400, `feedback${field}: expected an object {"id": string, "label": ${expected}}`);
    }
    const record = entry as Record<string, unknown>;
    const prefix = field ? `${field}.` : '';
    if (typeof record.id !== 'string' || record.id === '' || record.id.length > 256)
      throw new RequestError(
        400,
        `${prefix}id: expected the id (1 to 256 characters) of an earlier prediction, got ${shown(record.id)}`,
      );
    if (seen.has(record.id))
      throw new RequestError(
        400,
        `${prefix}id: ${JSON.stringify(record.id)} appears twice in this request; each prediction is labelled once`,
      );
    seen.add(record.id);
    if (record.label === undefined)
      throw new RequestError(400, `${prefix}label: missing; expected ${labelKind} (or a list, one per row)`);
    return {
      id: record.id,
      labels: numbers(record.label, `${prefix}label`, isLabel, labelKind)!,
      values: numbers(record.value, `${prefix}value`, bounded, within),
      returns: numbers(record.return, `${prefix}return`, bounded, within),
    };
  });
}
