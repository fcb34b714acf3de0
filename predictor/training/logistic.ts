// Logistic regression fitted by Newton–Raphson (iteratively reweighted least
// squares) with a small ridge penalty: exact, deterministic, no learning rate.
import { sigmoid, solve } from './linear-algebra.js';

export interface LinearModel {
  weights: number[];
  bias: number;
}

/** Logistic regression by batch gradient descent with L2 penalty, deterministic for a given seed. */
export function trainLogistic(x: number[][], y: number[], { ridge = 1e-3, iterations = 25 } = {}): LinearModel {
  const width = x[0]!.length + 1; // last coefficient is the bias
  let beta = new Array<number>(width).fill(0);
  for (let iter = 0; iter < iterations; iter++) {
    const gradient = new Array<number>(width).fill(0);
    const hessian = Array.from({ length: width }, () => new Array<number>(width).fill(0));
    x.forEach((features, i) => {
      const row = [...features, 1];
      const p = sigmoid(row.reduce((sum, value, j) => sum + value * beta[j]!, 0));
      const w = p * (1 - p);
      for (let j = 0; j < width; j++) {
        gradient[j]! += (y[i]! - p) * row[j]!;
        for (let k = 0; k <= j; k++) hessian[j]![k]! += w * row[j]! * row[k]!;
      }
    });
    for (let j = 0; j < width; j++) {
      for (let k = 0; k < j; k++) hessian[k]![j] = hessian[j]![k]!;
      if (j < width - 1) {
        gradient[j]! -= ridge * x.length * beta[j]!;
        hessian[j]![j]! += ridge * x.length;
      }
    }
    const step = solve(hessian, gradient);
    beta = beta.map((value, j) => value + step[j]!);
    if (Math.max(...step.map(Math.abs)) < 1e-10) break;
  }
  return { weights: beta.slice(0, -1), bias: beta[width - 1]! };
}

export function predictLogistic(model: LinearModel, x: number[][]): number[] {
  return x.map((row) => sigmoid(row.reduce((sum, value, j) => sum + value * model.weights[j]!, model.bias)));
}
