// `make models` must reproduce the committed models byte for byte, and the
// versions must stand in the order the demos rely on.
import { describe, expect, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../../shared/paths.js';
import { MODEL, MODELS_DIR } from '../support/predictor.js';

const VERSIONS = ['v1', 'v2', 'v3', 'v4'];

async function metadata(
  version: string,
): Promise<{ holdoutAccuracy: number; inputWidth: number; features: string[]; trainingSeed: number }> {
  return JSON.parse(await readFile(path.join(MODELS_DIR, MODEL, version, 'metadata.json'), 'utf8'));
}

describe('committed models', () => {
  test('retraining with the same seed writes identical files', async () => {
    const out = await mkdtemp(path.join(os.tmpdir(), 'weir-train-'));
    try {
      await promisify(execFile)(process.execPath, [
        path.join(packageRoot(), 'dist/predictor/training/train.js'),
        '--out',
        out,
      ]);
      for (const version of VERSIONS) {
        for (const file of ['model.onnx', 'metadata.json']) {
          const fresh = await readFile(path.join(out, MODEL, version, file));
          const committed = await readFile(path.join(MODELS_DIR, MODEL, version, file));
          expect({ file: `${version}/${file}`, same: fresh.equals(committed) }).toEqual({
            file: `${version}/${file}`,
            same: true,
          });
        }
      }
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  test('holdout accuracy: v2 > v1 > 0.5, v3 clearly below v1, v4 equals v2', async () => {
    const [v1, v2, v3, v4] = await Promise.all(VERSIONS.map(metadata));
    expect(v1!.holdoutAccuracy).toBeGreaterThan(0.5);
    expect(v2!.holdoutAccuracy).toBeGreaterThan(v1!.holdoutAccuracy + 0.03);
    expect(v3!.holdoutAccuracy).toBeLessThan(v1!.holdoutAccuracy - 0.03);
    expect(v4!.holdoutAccuracy).toBe(v2!.holdoutAccuracy);
    for (const m of [v1, v2, v3, v4]) {
      expect(m!.inputWidth).toBe(9);
      expect(m!.features).toHaveLength(9);
      expect(m!.trainingSeed).toBe(20260101);
    }
  });
});
