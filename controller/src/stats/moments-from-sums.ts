// Sample mean and standard deviation from the sufficient statistics a
// Prometheus counter triple exports: count, sum and sum of squares.

export interface Moments {
  n: number;
  mean: number;
  /** Sample standard deviation (n − 1 in the denominator). */
  sd: number;
}

/**
 * mean = Σx/n and s² = (Σx² − n·mean²)/(n − 1), clamped at 0 against rounding.
 * Needs n ≥ 2 for a standard deviation; throws a RangeError naming the field otherwise.
 */
export function momentsFromSums(count: number, sum: number, sumOfSquares: number, field = 'sample'): Moments {
  if (!(count >= 2)) throw new RangeError(`${field}: ${count} observations; a mean comparison needs at least 2`);
  if (!Number.isFinite(sum) || !Number.isFinite(sumOfSquares) || sumOfSquares < 0) {
    throw new RangeError(
      `${field}: sum ${sum} and sum of squares ${sumOfSquares} must be finite, with sum of squares >= 0`,
    );
  }
  const mean = sum / count;
  const variance = Math.max(0, (sumOfSquares - count * mean * mean) / (count - 1));
  return { n: count, mean, sd: Math.sqrt(variance) };
}
