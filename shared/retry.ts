// Retrying with exponential backoff: one formula for the delay, one loop.
import { setTimeout as sleep } from 'node:timers/promises';

/** The delay after `failures` consecutive failures: base · 2^failures, at most `maxMs`. */
export function backoffMs(failures: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, failures));
}

export interface RetryOptions {
  /** Attempts in all (the first included), at least 1. */
  attempts: number;
  /** Whether a failure is worth another attempt; default: every failure. */
  retryOn?: (err: unknown) => boolean;
  /** Wait before attempt n+1 (backoffMs(n−1, baseMs, maxMs)); 0 retries at once. */
  baseMs?: number;
  maxMs?: number;
}

/**
 * Runs `task` until it resolves, up to `attempts` times, waiting with
 * exponential backoff between attempts. The last failure, or one `retryOn`
 * declines, is rethrown as it was.
 */
export async function retry<T>(task: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await task(attempt);
    } catch (err) {
      if (attempt >= options.attempts || !(options.retryOn?.(err) ?? true)) throw err;
      const delay = options.baseMs ? backoffMs(attempt - 1, options.baseMs, options.maxMs ?? Infinity) : 0;
      if (delay > 0) await sleep(delay);
    }
  }
}
