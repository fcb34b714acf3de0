// `make models`: trains the price-direction versions on the synthetic market and
// writes predictor/models/price-direction/<version>/{model.onnx,metadata.json}.
// Deterministic: the same seed gives byte-identical files.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { Command } from 'commander';
import { generateMarket } from '../../shared/market/market.js';
import { FEATURE_COUNT, FEATURE_NAMES, labelledRows } from '../../shared/market/features.js';
import { fitStandardizer, standardize } from './linear-algebra.js';
import { trainLogistic, type LinearModel } from './logistic.js';
import { trainMlp, type MlpModel } from './mlp.js';
import { GraphBuilder } from './onnx-graph.js';

export const MODEL_NAME = 'price-direction';
export const TRAINING_SEED = 20260101;
const MARKET_LENGTH = 24000;
const HOLDOUT_SHARE = 0.25;
/** Size of v4's deliberate extra work: SLOW_CHAIN matmuls of [SLOW_SIZE, SLOW_SIZE]², run once per call. */
const SLOW_SIZE = 512;
const SLOW_CHAIN = 16;

interface VersionSpec {
  version: string;
  algorithm: string;
  description: string;
  graph: GraphBuilder;
}

/** Shared head of every graph: standardize `features` with the training set's mean and std. */
function standardizedInput(graph: GraphBuilder, scaler: { mean: number[]; std: number[] }): string {
  const centered = graph.op('Sub', ['features', graph.floats('feature_mean', [FEATURE_COUNT], scaler.mean)]);
  return graph.op('Div', [centered, graph.floats('feature_std', [FEATURE_COUNT], scaler.std)]);
}

/** Shared tail: logit [N,1] → probability [N] and label [N] (int64, 1 = up). */
function probabilityAndLabel(graph: GraphBuilder, logit: string): void {
  const p = graph.op('Sigmoid', [logit]);
  graph.op('Reshape', [p, graph.int64s('flat_shape', [-1])], [], 'probability');
  const up = graph.op('Greater', ['probability', graph.floats('threshold', [], [0.5])]);
  graph.op('Cast', [up], [{ name: 'to', i: 7 /* INT64 */ }], 'label');
}

function logisticGraph(name: string, scaler: { mean: number[]; std: number[] }, model: LinearModel): GraphBuilder {
  const graph = new GraphBuilder(name);
  const x = standardizedInput(graph, scaler);
  const logit = graph.op('Gemm', [
    x,
    graph.floats('w', [FEATURE_COUNT, 1], model.weights),
    graph.floats('b', [1], [model.bias]),
  ]);
  probabilityAndLabel(graph, logit);
  return graph;
}

function mlpLogit(graph: GraphBuilder, scaler: { mean: number[]; std: number[] }, model: MlpModel): string {
  const x = standardizedInput(graph, scaler);
  const hiddenUnits = model.w1.length;
  const w1 = graph.floats('w1', [hiddenUnits, FEATURE_COUNT], model.w1.flat());
  const hidden = graph.op('Tanh', [
    graph.op('Gemm', [x, w1, graph.floats('b1', [hiddenUnits], model.b1)], [{ name: 'transB', i: 1 }]),
  ]);
  return graph.op('Gemm', [
    hidden,
    graph.floats('w2', [hiddenUnits, 1], model.w2),
    graph.floats('b2', [1], [model.b2]),
  ]);
}

function mlpGraph(name: string, scaler: { mean: number[]; std: number[] }, model: MlpModel): GraphBuilder {
  const graph = new GraphBuilder(name);
  probabilityAndLabel(graph, mlpLogit(graph, scaler, model));
  return graph;
}

/**
 * v2's graph plus a chain of large matmuls that depends on the input (so ONNX
 * Runtime cannot fold it away) and is then multiplied by zero and added to the
 * logit. Outputs equal v2's exactly; every call pays the extra work once.
 */
function slowMlpGraph(name: string, scaler: { mean: number[]; std: number[] }, model: MlpModel): GraphBuilder {
  const graph = new GraphBuilder(name);
  const logit = mlpLogit(graph, scaler, model);
  const seed = graph.op('Tanh', [graph.op('ReduceMean', ['features'], [{ name: 'keepdims', i: 0 }])]);
  let h = graph.op('Expand', [seed, graph.int64s('slow_shape', [SLOW_SIZE, SLOW_SIZE])]);
  const weights = graph.op(
    'ConstantOfShape',
    [graph.int64s('slow_weight_shape', [SLOW_SIZE, SLOW_SIZE])],
    [{ name: 'value', t: GraphBuilder.scalarTensor(1 / SLOW_SIZE) }],
  );
  for (let i = 0; i < SLOW_CHAIN; i++) h = graph.op('Tanh', [graph.op('MatMul', [h, weights])]);
  const nothing = graph.op('Mul', [
    graph.op('ReduceMean', [h], [{ name: 'keepdims', i: 0 }]),
    graph.floats('zero', [], [0]),
  ]);
  probabilityAndLabel(graph, graph.op('Add', [logit, nothing]));
  return graph;
}

async function holdoutAccuracy(file: Uint8Array, x: number[][], y: number[]): Promise<number> {
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1 });
  try {
    const input = new ort.Tensor('float32', Float32Array.from(x.flat()), [x.length, FEATURE_COUNT]);
    const result = await session.run({ features: input });
    const labels = result.label!.data as BigInt64Array;
    let correct = 0;
    labels.forEach((label, i) => (correct += Number(label) === y[i] ? 1 : 0));
    return correct / y.length;
  } finally {
    await session.release();
  }
}

/** Trains every seed version on the synthetic market and writes model.onnx and metadata.json per version. */
export async function trainAll(
  outDir: string,
  seed = TRAINING_SEED,
  log: (line: string) => void = console.log,
): Promise<Record<string, number>> {
  log(`generating synthetic market: seed=${seed}, ${MARKET_LENGTH} bars`);
  const rows = labelledRows(generateMarket({ seed, length: MARKET_LENGTH }));
  const split = Math.floor(rows.length * (1 - HOLDOUT_SHARE));
  const train = rows.slice(0, split);
  const holdout = rows.slice(split);
  const scaler = fitStandardizer(train.map((r) => r.features));
  const xTrain = standardize(
    train.map((r) => r.features),
    scaler,
  );
  const yTrain = train.map((r) => r.label);

  log(`training v1 (logistic regression) on ${train.length} rows`);
  const v1 = trainLogistic(xTrain, yTrain);
  log('training v2 (MLP, 16 tanh units)');
  const v2 = trainMlp(xTrain, yTrain, { hidden: 16, epochs: 30, batchSize: 64, learningRate: 0.003, l2: 1e-4, seed });
  // v3 reproduces a classic pipeline bug: the label was aligned to the current
  // bar instead of the next one, so the model learns "same as last return".
  log('training v3 (logistic regression with a label-alignment bug)');
  const v3 = trainLogistic(
    xTrain,
    train.map((r) => (r.features[0]! > 0 ? 1 : 0)),
    { ridge: 0.05 },
  );

  const versions: VersionSpec[] = [
    {
      version: 'v1',
      algorithm: 'logistic-regression',
      description: 'baseline logistic regression',
      graph: logisticGraph('v1', scaler, v1),
    },
    {
      version: 'v2',
      algorithm: 'mlp',
      description: 'enhanced: MLP with 16 tanh hidden units',
      graph: mlpGraph('v2', scaler, v2),
    },
    {
      version: 'v3',
      algorithm: 'logistic-regression',
      description: 'degraded: trained with labels aligned to the current bar instead of the next (for rollback demos)',
      graph: logisticGraph('v3', scaler, v3),
    },
    {
      version: 'v4',
      algorithm: 'mlp',
      description: `v2's weights plus ${SLOW_CHAIN} input-dependent ${SLOW_SIZE}x${SLOW_SIZE} matmuls per call (for latency guardrails)`,
      graph: slowMlpGraph('v4', scaler, v2),
    },
  ];
  const accuracies: Record<string, number> = {};
  for (const spec of versions) {
    const outputs = [
      { name: 'probability', type: 'float' as const },
      { name: 'label', type: 'int64' as const },
    ];
    const file = spec.graph.encode({
      input: 'features',
      width: FEATURE_COUNT,
      outputs,
      doc: `${MODEL_NAME} ${spec.version}: ${spec.description}`,
    });
    const accuracy = await holdoutAccuracy(
      file,
      holdout.map((r) => r.features),
      holdout.map((r) => r.label),
    );
    accuracies[spec.version] = accuracy;
    const metadata = {
      model: MODEL_NAME,
      version: spec.version,
      algorithm: spec.algorithm,
      description: spec.description,
      inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, FEATURE_COUNT] }],
      outputs: [
        {
          name: 'probability',
          datatype: 'FP32',
          shape: [-1],
          description: 'probability that the next period closes up',
        },
        { name: 'label', datatype: 'INT64', shape: [-1], description: '1 = up, 0 = down' },
      ],
      features: [...FEATURE_NAMES],
      inputWidth: FEATURE_COUNT,
      classes: [0, 1],
      holdoutAccuracy: Number(accuracy.toFixed(4)),
      holdoutRows: holdout.length,
      trainRows: train.length,
      trainingSeed: seed,
    };
    const dir = path.join(outDir, MODEL_NAME, spec.version);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'model.onnx'), file);
    await writeFile(path.join(dir, 'metadata.json'), `${JSON.stringify(metadata, null, 2)}\n`);
    log(`wrote ${path.join(dir, 'model.onnx')} (${file.length} bytes), holdout accuracy ${accuracy.toFixed(4)}`);
  }
  return accuracies;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const program = new Command('train')
    .description('Train the price-direction model versions and write them as ONNX files')
    .option('--out <dir>', 'model repository to write into', 'predictor/models')
    .option('--seed <n>', 'seed of the synthetic market and of training', String(TRAINING_SEED))
    .parse();
  const { out, seed } = program.opts<{ out: string; seed: string }>();
  await trainAll(out, Number(seed));
}
