// A one-hidden-layer perceptron (tanh) for binary classification, trained with
// Adam on shuffled minibatches drawn from a seeded PRNG: same seed, same weights.
import { seededRandom, gaussian } from '../../shared/random.js';
import { sigmoid } from './linear-algebra.js';

export interface MlpModel {
  /** hidden × inputs */
  w1: number[][];
  b1: number[];
  /** one output weight per hidden unit */
  w2: number[];
  b2: number;
}

export interface MlpOptions {
  hidden: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  l2: number;
  seed: number;
}

function forward(model: MlpModel, row: number[]): { hidden: number[]; p: number } {
  const hidden = model.w1.map((weights, h) =>
    Math.tanh(weights.reduce((sum, w, j) => sum + w * row[j]!, model.b1[h]!)),
  );
  const logit = hidden.reduce((sum, value, h) => sum + value * model.w2[h]!, model.b2);
  return { hidden, p: sigmoid(logit) };
}

export function predictMlp(model: MlpModel, x: number[][]): number[] {
  return x.map((row) => forward(model, row).p);
}

/** A one-hidden-layer tanh MLP trained with Adam, deterministic for a given seed. */
export function trainMlp(x: number[][], y: number[], options: MlpOptions): MlpModel {
  const { hidden, epochs, batchSize, learningRate, l2, seed } = options;
  const inputs = x[0]!.length;
  const uniform = seededRandom(seed);
  const normal = gaussian(uniform);
  const scale1 = Math.sqrt(1 / inputs);
  const scale2 = Math.sqrt(1 / hidden);
  const model: MlpModel = {
    w1: Array.from({ length: hidden }, () => Array.from({ length: inputs }, () => normal() * scale1)),
    b1: new Array<number>(hidden).fill(0),
    w2: Array.from({ length: hidden }, () => normal() * scale2),
    b2: 0,
  };
  // Parameters flattened for Adam: w1, b1, w2, b2.
  const size = hidden * inputs + hidden + hidden + 1;
  const m = new Float64Array(size);
  const v = new Float64Array(size);
  const [beta1, beta2, epsilon] = [0.9, 0.999, 1e-8];
  let step = 0;
  const order = x.map((_, i) => i);
  for (let epoch = 0; epoch < epochs; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(uniform() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (let start = 0; start < order.length; start += batchSize) {
      const batch = order.slice(start, start + batchSize);
      const grad = new Float64Array(size);
      for (const index of batch) {
        const row = x[index]!;
        const { hidden: activations, p } = forward(model, row);
        const dLogit = (p - y[index]!) / batch.length;
        for (let h = 0; h < hidden; h++) {
          grad[hidden * inputs + hidden + h]! += dLogit * activations[h]!;
          const dPre = dLogit * model.w2[h]! * (1 - activations[h]! ** 2);
          for (let j = 0; j < inputs; j++) grad[h * inputs + j]! += dPre * row[j]!;
          grad[hidden * inputs + h]! += dPre;
        }
        grad[size - 1]! += dLogit;
      }
      step++;
      const correction1 = 1 - beta1 ** step;
      const correction2 = 1 - beta2 ** step;
      const update = (k: number, value: number, decay: boolean): number => {
        const g = grad[k]! + (decay ? l2 * value : 0);
        m[k] = beta1 * m[k]! + (1 - beta1) * g;
        v[k] = beta2 * v[k]! + (1 - beta2) * g * g;
        return value - (learningRate * (m[k]! / correction1)) / (Math.sqrt(v[k]! / correction2) + epsilon);
      };
      for (let h = 0; h < hidden; h++) {
        for (let j = 0; j < inputs; j++) model.w1[h]![j] = update(h * inputs + j, model.w1[h]![j]!, true);
        model.b1[h] = update(hidden * inputs + h, model.b1[h]!, false);
        model.w2[h] = update(hidden * inputs + hidden + h, model.w2[h]!, true);
      }
      model.b2 = update(size - 1, model.b2, false);
    }
  }
  return model;
}
