// The little dense linear algebra the trainers need, on plain number arrays.

/** Solves A x = b by Gaussian elimination with partial pivoting. A is n×n, row-major. */
export function solve(matrix: number[][], rhs: number[]): number[] {
  const n = rhs.length;
  const a = matrix.map((row, i) => [...row, rhs[i]!]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let row = col + 1; row < n; row++) if (Math.abs(a[row]![col]!) > Math.abs(a[pivot]![col]!)) pivot = row;
    if (Math.abs(a[pivot]![col]!) < 1e-300) throw new Error(`solve: matrix is singular at column ${col}`);
    [a[col], a[pivot]] = [a[pivot]!, a[col]!];
    for (let row = col + 1; row < n; row++) {
      const factor = a[row]![col]! / a[col]![col]!;
      for (let k = col; k <= n; k++) a[row]![k]! -= factor * a[col]![k]!;
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let row = n - 1; row >= 0; row--) {
    let sum = a[row]![n]!;
    for (let k = row + 1; k < n; k++) sum -= a[row]![k]! * x[k]!;
    x[row] = sum / a[row]![row]!;
  }
  return x;
}

export function sigmoid(z: number): number {
  return 1 / (1 + Math.exp(-z));
}

export interface Standardizer {
  mean: number[];
  std: number[];
}

export function fitStandardizer(rows: number[][]): Standardizer {
  const width = rows[0]!.length;
  const mean = new Array<number>(width).fill(0);
  const std = new Array<number>(width).fill(0);
  for (const row of rows) row.forEach((value, j) => (mean[j]! += value / rows.length));
  for (const row of rows) row.forEach((value, j) => (std[j]! += (value - mean[j]!) ** 2 / rows.length));
  return { mean, std: std.map((variance) => Math.sqrt(variance) || 1) };
}

/** Standardizes with float32 parameters, exactly as the ONNX graph will. */
export function standardize(rows: number[][], { mean, std }: Standardizer): number[][] {
  const m = Float32Array.from(mean);
  const s = Float32Array.from(std);
  return rows.map((row) => row.map((value, j) => Math.fround(Math.fround(Math.fround(value) - m[j]!) / s[j]!)));
}
