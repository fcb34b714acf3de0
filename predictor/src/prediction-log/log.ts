// The prediction log: where every prediction waits for its ground truth. Two
// kinds share one contract: the in-process store (one predictor process only,
// the embedded default) and Redis (every replica of every version, so a label
// posted to any replica finds every version's prediction of that request).
//
// Writes never fail or slow inference: `record` returns at once, and a record
// that cannot be written is counted as unlogged. Reads and claims are made for
// feedback, which can wait and retry: they throw PredictionLogUnavailable when
// the log cannot answer, and the endpoint turns that into 503 + Retry-After.
import { UsageError } from '../../../shared/errors.js';

/** One version's prediction of one request. */
export interface LoggedPrediction {
  version: string;
  /** Per row: the predicted class (classification) or value (regression). */
  outputs: number[];
  /** Per row: the probability of the positive class, when the model gives one. */
  probabilities?: number[] | undefined;
  /** Milliseconds since the epoch, when it was predicted. */
  at: number;
}

/** What the log holds for one request id: each version's prediction, and which were already scored. */
export interface LoggedRequest {
  predictions: LoggedPrediction[];
  /** Claim keys (see claimKey) already taken. */
  claimed: Set<string>;
}

/** The log cannot answer now (Redis unreachable, or too slow); the client should retry. */
export class PredictionLogUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PredictionLogUnavailable';
  }
}

/** Why a prediction was not logged. */
export type UnloggedReason = 'unavailable' | 'backlog' | 'error';

/** The prediction log's contract (see the module comment). */
export interface PredictionLog {
  /** Logs one prediction; returns at once and never throws. */
  record(id: string, prediction: LoggedPrediction): void;
  /** Each id's logged request, or undefined when nothing is logged for it (never made, or long gone). */
  lookup(ids: string[]): Promise<Map<string, LoggedRequest | undefined>>;
  /**
   * Takes claims atomically, all in one step: each (id, key) is granted to
   * exactly one caller across all replicas. Returns whether each was granted
   * here, in the order given.
   */
  claim(claims: { id: string; key: string }[]): Promise<boolean[]>;
  close(): Promise<void>;
}

/** The claim for scoring one version's prediction of a request. */
export const claimKey = (version: string): string => `v:${version}`;

/** The claim for scoring a pair of versions' predictions of the same request (order does not matter). */
export const pairClaimKey = (a: string, b: string): string => (a < b ? `p:${a}|${b}` : `p:${b}|${a}`);

/**
 * How long a prediction stays after its feedback TTL, so late feedback is told
 * "expired" (410) rather than "unknown" (404): a tenth of the TTL, from one
 * minute to one hour.
 */
export function expiredGraceMs(ttlMs: number): number {
  return Math.min(3_600_000, Math.max(60_000, Math.round(ttlMs / 10)));
}

/** Checks a --prediction-log value; throws UsageError naming it. Returns the URL with any password masked, for logs. */
export function checkRedisUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // The value may hold a password: it is not repeated.
    throw new UsageError(
      '--prediction-log (WEIR_PREDICTION_LOG): the value is not a URL; expected redis://HOST:PORT[/DB]',
    );
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:')
    throw new UsageError(
      `--prediction-log (WEIR_PREDICTION_LOG): "${parsed.protocol}" is not supported; expected redis://HOST:PORT[/DB] (or rediss:// for TLS)`,
    );
  const db = parsed.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d{1,5}$/.test(db))
    throw new UsageError(`--prediction-log (WEIR_PREDICTION_LOG): database "${db}" is not a number (such as /0)`);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
