// Shared assertion for the reference-value tests in this folder.
import { expect } from '@jest/globals';

/** |actual − expected| ≤ rel·|expected| (or ≤ rel when expected is 0). */
export function expectRelative(actual: number, expected: number, rel = 1e-9): void {
  const tolerance = expected === 0 ? rel : Math.abs(expected) * rel;
  if (!(Math.abs(actual - expected) <= tolerance)) {
    throw new Error(`expected ${actual} to be within ${rel} (relative) of ${expected}`);
  }
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(tolerance);
}
