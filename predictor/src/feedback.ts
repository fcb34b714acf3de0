// Ground truth for earlier predictions. The predictor remembers recent
// predictions (bounded count, bounded age); a label joins one and turns into
// the counters the controller compares: correct/incorrect, the Brier loss's
// sufficient statistics, and business value.
//
// A request is all-or-nothing: every item is decoded, bounded and joined with
// its prediction (known, not expired, row counts) before any counter moves or
// any prediction is used up, so a bad item changes nothing and the corrected
// request works. Values are bounded (--max-feedback-value, at most 1e100), so
// no sum or sum of squares can reach ±Infinity.
import { RequestError, shown } from '../../shared/errors.js';

export interface StoredPrediction {
  version: string;
  /** Predicted class per row (1 = up). */
  labels: number[];
  /** Probability of class 1 per row, when the model outputs one. */
  probabilities: number[] | undefined;
  expiresAt: number;
}

export interface FeedbackItem {
  id: string;
  labels: number[];
  /** Business value per row, given by the caller. */
  values: number[] | undefined;
  /** Realized return per row; value = return when the prediction was up, -return when down. */
  returns: number[] | undefined;
}

export interface ScoredRow {
  version: string;
  correct: boolean;
  /** (p - y)²; undefined when the model gave no probability. */
  brier: number | undefined;
  value: number | undefined;
}

export type Rejection = 'unknown' | 'expired' | 'invalid' | 'mismatch';
export const REJECTION_STATUS: Record<Rejection, number> = { unknown: 404, expired: 410, invalid: 400, mismatch: 422 };

/** Recent predictions by id, bounded in count and age, each scored once by its label. */
export class PredictionStore {
  // A Map keeps insertion order, and every entry lives equally long, so the
  // oldest entries are always at the front: expiry and eviction are O(1) each.
  private readonly entries = new Map<string, StoredPrediction>();

  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  remember(id: string, prediction: Omit<StoredPrediction, 'expiresAt'>, now: number): void {
    this.entries.delete(id);
    this.entries.set(id, { ...prediction, expiresAt: now + this.ttlMs });
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.sweep(now);
  }

  /**
   * Checks a label against its prediction without using it up: undefined when
   * it can be scored, otherwise why not.
   */
  check(item: FeedbackItem, now: number): { rejection: Rejection; message: string } | undefined {
    const stored = this.entries.get(item.id);
    if (!stored)
      return {
        rejection: 'unknown',
        message: `id ${JSON.stringify(item.id)}: no prediction with this id is remembered (never made, evicted, or already labelled)`,
      };
    if (stored.expiresAt <= now)
      return {
        rejection: 'expired',
        message: `id ${JSON.stringify(item.id)}: the prediction expired; feedback must arrive within ${this.ttlMs} ms`,
      };
    const rows = stored.labels.length;
    for (const [field, list] of [
      ['label', item.labels],
      ['value', item.values],
      ['return', item.returns],
    ] as const) {
      if (list && list.length !== rows) {
        return {
          rejection: 'mismatch',
          message: `id ${JSON.stringify(item.id)}: ${field} has ${list.length} entries, but the prediction had ${rows} rows`,
        };
      }
    }
    return undefined;
  }

  /** Joins a checked label with its prediction and forgets the prediction, so each is scored once. */
  score(item: FeedbackItem, now: number): ScoredRow[] | { rejection: Rejection; message: string } {
    const problem = this.check(item, now);
    if (problem) {
      if (problem.rejection === 'expired') this.entries.delete(item.id);
      return problem;
    }
    const stored = this.entries.get(item.id)!;
    this.entries.delete(item.id);
    return stored.labels.map((predicted, i) => {
      const truth = item.labels[i]!;
      const p = stored.probabilities?.[i];
      const realized = item.returns?.[i];
      const value = item.values?.[i] ?? (realized === undefined ? undefined : predicted === 1 ? realized : -realized);
      return {
        version: stored.version,
        correct: predicted === truth,
        brier: p === undefined ? undefined : (p - truth) ** 2,
        value,
      };
    });
  }

  private sweep(now: number): void {
    for (const [id, entry] of this.entries) {
      if (entry.expiresAt > now) break;
      this.entries.delete(id);
    }
  }
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
  classes: readonly number[],
  limits: FeedbackLimits = { maxAbsValue: 1e9, maxItems: 10_000 },
): FeedbackItem[] {
  const list = Array.isArray(body) ? body : [body];
  if (list.length === 0) throw new RequestError(400, 'feedback: the list is empty; expected {"id", "label"} objects');
  if (list.length > limits.maxItems)
    throw new RequestError(400, `feedback: ${list.length} items; at most ${limits.maxItems} per request`);
  const bounded = (n: number) => Number.isFinite(n) && Math.abs(n) <= limits.maxAbsValue;
  const within = `a finite number from −${limits.maxAbsValue} to ${limits.maxAbsValue} (--max-feedback-value)`;
  const seen = new Set<string>();
  return list.map((entry, index) => {
    const field = Array.isArray(body) ? `[${index}]` : '';
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw new RequestError(
        400,
        `feedback${field}: expected an object {"id": string, "label": ${classes.join(' | ')}}`,
      );
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
      throw new RequestError(400, `${prefix}label: missing; expected ${classes.join(' or ')} (or a list, one per row)`);
    return {
      id: record.id,
      labels: numbers(
        record.label,
        `${prefix}label`,
        (n) => classes.includes(n),
        `a class label (${classes.join(' or ')})`,
      )!,
      values: numbers(record.value, `${prefix}value`, bounded, within),
      returns: numbers(record.return, `${prefix}return`, bounded, within),
    };
  });
}
