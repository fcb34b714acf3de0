// Runs an ONNX file through ONNX Runtime in a plain child Node, the reference a
// predictor's answers are compared against. (Inside jest's VM realm the native
// binding's typed arrays fail onnxruntime-common's instanceof checks.)
import { execFileSync } from 'node:child_process';
import { packageRoot } from '../../shared/paths.js';

/** Runs `rows` as one batch, or (oneByOne) each row as its own run, as an unbatched server would. */
export function ortReference(
  file: string,
  rows: number[][],
  oneByOne = false,
): { probability: number[]; label: number[] } {
  const script = `
    const ort = require('onnxruntime-node');
    const { file, rows, oneByOne } = JSON.parse(require('fs').readFileSync(0, 'utf8'));
    ort.InferenceSession.create(file, { intraOpNumThreads: 1 }).then(async (session) => {
      const result = { probability: [], label: [] };
      for (const batch of oneByOne ? rows.map((r) => [r]) : [rows]) {
        const out = await session.run({ features: new ort.Tensor('float32', Float32Array.from(batch.flat()), [batch.length, batch[0].length]) });
        result.probability.push(...out.probability.data);
        result.label.push(...Array.from(out.label.data, Number));
      }
      process.stdout.write(JSON.stringify(result));
    });`;
  const output = execFileSync(process.execPath, ['-e', script], {
    cwd: packageRoot(),
    input: JSON.stringify({ file, rows, oneByOne }),
  });
  return JSON.parse(output.toString()) as { probability: number[]; label: number[] };
}
