// Helpers for tests that talk to a real weir-predictor process over HTTP.
import { afterEach } from '@jest/globals';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generateMarket } from '../../shared/market/market.js';
import { labelledRows, type LabelledRow } from '../../shared/market/features.js';
import {
  startPredictor,
  type PredictorProcess,
  type PredictorProcessOptions,
} from '../../controller/src/local/predictor-process.js';
import { packageRoot } from '../../shared/paths.js';
import { metricAt } from './metrics.js';

export const MODEL = 'price-direction';
export const MODELS_DIR = path.join(packageRoot(), 'predictor', 'models');

/** Feature rows from a market the models never saw in training. */
export function marketRows(count: number, seed = 11): LabelledRow[] {
  return labelledRows(generateMarket({ seed, length: count + 40 })).slice(-count);
}

export function inferBody(features: number[][], extra: Record<string, unknown> = {}) {
  return {
    inputs: [
      { name: 'features', shape: [features.length, features[0]!.length], datatype: 'FP32', data: features.flat() },
    ],
    ...extra,
  };
}

export interface Reply<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export async function request<T = any>(
  url: string,
  init: { method?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {},
): Promise<Reply<T>> {
  const response = await fetch(url, {
    method: init.method ?? (init.body !== undefined || init.raw !== undefined ? 'POST' : 'GET'),
    headers: { 'content-type': 'application/json', ...init.headers },
    body: init.raw ?? (init.body === undefined ? undefined : JSON.stringify(init.body)),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // plain text (metrics)
  }
  return { status: response.status, headers: response.headers, body: body as T };
}

export async function infer(
  predictor: PredictorProcess,
  features: number[][],
  options: { path?: string; headers?: Record<string, string>; extra?: Record<string, unknown> } = {},
) {
  return request(`${predictor.url}${options.path ?? `/v2/models/${MODEL}/infer`}`, {
    body: inferBody(features, options.extra),
    headers: options.headers,
  });
}

export async function metric(
  predictor: PredictorProcess,
  name: string,
  where: Record<string, string> = {},
): Promise<number> {
  return metricAt(`${predictor.url}/metrics`, name, where);
}

/** A private copy of some versions, so a test may change files without touching the committed models. */
export async function scratchRepository(versions: string[]): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'weir-models-'));
  for (const version of versions)
    await cp(path.join(MODELS_DIR, MODEL, version), path.join(root, MODEL, version), { recursive: true });
  return root;
}

export function predictor(
  options: Partial<PredictorProcessOptions> & { args?: string[] } = {},
): Promise<PredictorProcess> {
  return startPredictor({ modelRepository: MODELS_DIR, model: MODEL, version: 'v1', ...options });
}

export { waitFor } from '../../shared/wait.js';

/** For one test file: a `repo(versions)` that copies versions into a scratch repository, all removed after each test. */
export function scratchRepositoriesPerTest(): (versions: string[]) => Promise<string> {
  const made: string[] = [];
  afterEach(async () => {
    await Promise.all(made.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  });
  return async (versions) => {
    const dir = await scratchRepository(versions);
    made.push(dir);
    return dir;
  };
}

/** For one test file: a `start` that launches predictors, all stopped after each test. */
export function predictorsPerTest(): typeof predictor {
  const started: PredictorProcess[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((p) => p.stop()));
  });
  return async (options) => {
    const p = await predictor(options);
    started.push(p);
    return p;
  };
}
