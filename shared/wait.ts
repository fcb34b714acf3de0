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
