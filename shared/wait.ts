// Waiting: a sleep, and polling until something holds.
import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

/**
 * Polls `check` every `everyMs` until it returns true. Rejects after
 * `timeoutMs` with an error naming `what`. A check that throws rejects at once.
 */
export async function waitFor(
  check: () => Promise<boolean> | boolean,
  timeoutMs = 15_000,
  what = 'condition',
  everyMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** What `withTimeout` resolves with when the time ran out first. */
export const TIMED_OUT = Symbol('timed out');

/**
 * The work's result, or TIMED_OUT when `ms` pass first. The work is not
 * cancelled: it goes on, and a rejection after the timeout is left to the caller's own handler.
 */
export async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<typeof TIMED_OUT>((resolve) => {
        timer = setTimeout(() => resolve(TIMED_OUT), ms);
        timer.unref();
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
