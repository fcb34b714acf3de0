// Numbers as people read them in tables, messages and chart labels.

/**
 * `digits` significant digits, without trailing zeros; integers as they are;
 * exponent notation for magnitudes below 1e-3 or from 1e6 up; non-finite
 * values as JavaScript prints them (Infinity, NaN).
 */
export function formatNumber(value: number, digits = 3): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value) && Math.abs(value) < 1e6) return String(value);
  if (value !== 0 && (Math.abs(value) >= 1e6 || Math.abs(value) < 1e-3)) return value.toExponential(digits - 1);
  return Number(value.toPrecision(digits)).toString();
}

/** A split as people read it: "v1 34%, v2 33%, v3 33%". */
export function formatSplit(weights: Record<string, number>): string {
  return Object.entries(weights)
    .map(([version, weight]) => `${version} ${weight}%`)
    .join(', ');
}
