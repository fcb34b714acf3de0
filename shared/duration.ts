// Durations as people write them in configs and flags: "500ms", "30s", "5m", "2h", "1h30m".
import { UsageError } from './errors.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION = /^(?:(\d+(?:\.\d+)?)(ms|s|m|h))+$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;

/** Milliseconds in a duration string. Throws a UsageError naming `field` when the text is not a duration. */
export function parseDuration(text: string, field = 'duration'): number {
  const trimmed = text.trim();
  if (!DURATION.test(trimmed)) {
    throw new UsageError(
      `${field}: "${text}" is not a duration; expected a number with a unit, such as 500ms, 30s, 5m, 2h or 1h30m`,
    );
  }
  let total = 0;
  for (const match of trimmed.matchAll(PART)) total += Number(match[1]) * UNIT_MS[match[2]!]!;
  return total;
}
