import { describe, expect, test } from '@jest/globals';
import { readdir, readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import path from 'node:path';
import { stringify } from 'yaml';
import { packageRoot } from '../../../shared/paths.js';
import { modelRolloutCrdYaml } from './crd.js';
import { validateModelRollout, validateText } from './validate.js';
import { aSpecInput } from '../../../test/support/fixtures.js';

const root = packageRoot();
const minimal = {
  apiVersion: 'weir.dev/v1alpha1',
  kind: 'ModelRollout',
  metadata: { name: 'r' },
  spec: {
    ...aSpecInput(),
  },
};
const withSpec = (spec: Record<string, unknown>) => ({ ...minimal, spec: { ...minimal.spec, ...spec } });

describe('ModelRollout validation', () => {
  test('the example validates, and defaults fill what it leaves out', async () => {
    const text = await readFile(path.join(root, 'manifests/examples/price-direction.yaml'), 'utf8');
    const [result] = validateText(text);
    expect(result!.errors).toEqual([]);
    expect(result!.rollout!.spec.analysis.comparisons[0]).toMatchObject({
      name: 'accuracy',
      type: 'proportion',
      role: 'primary',
      minEffect: 0.01,
    });
    expect(result!.rollout!.spec.strategy.mirror).toBeUndefined();
  });

  test('every ModelRollout in manifests/examples validates; the baseline example routes to v1-baseline with its own margin', async () => {
    const dir = path.join(root, 'manifests/examples');
    const rollouts = [];
    for (const file of await readdir(dir)) {
      for (const document of parseAllDocuments(await readFile(path.join(dir, file), 'utf8'))) {
        const object = document.toJS() as { kind?: string };
        if (object?.kind !== 'ModelRollout') continue;
        const result = validateModelRollout(object);
        expect({ file, errors: result.errors }).toEqual({ file, errors: [] });
        rollouts.push(result.rollout!);
      }
    }
    expect(rollouts.length).toBeGreaterThanOrEqual(4);
    const withBaseline = rollouts.find((r) => r.spec.baseline)!;
    expect(withBaseline.spec.baseline).toEqual({ version: 'v1-baseline' });
    expect(withBaseline.spec.analysis.comparisons[0]).toMatchObject({ name: 'accuracy', margin: 0.02 });
    expect(withBaseline.spec.analysis.warmup).toBe('1m');
  });

  test('a minimal spec gets the documented defaults', () => {
    const { rollout, errors } = validateModelRollout(minimal);
    expect(errors).toEqual([]);
    expect(rollout!.spec.strategy).toEqual({
      steps: [10, 25, 50, 100],
      minStageDuration: '5m',
      minSamplesPerStage: 1000,
      maxDuration: '2h',
      approvals: [],
      onInconclusive: 'rollback',
    });
    expect(rollout!.spec.analysis).toMatchObject({
      interval: '30s',
      alpha: 0.05,
      sequential: 'msprt',
      guardrails: [],
      comparisons: [],
    });
  });

  test.each([
    [{ strategy: { steps: [10, 5, 100] } }, 'spec.strategy.steps: [10,5,100] must rise'],
    [{ strategy: { steps: [10, 50] } }, 'spec.strategy.steps: [10,50] must end at 100'],
    [{ strategy: { steps: [10, 25.5, 100] } }, 'spec.strategy.steps[1]: 25.5 is not a whole percentage'],
    [
      { strategy: { steps: [100] } },
      'spec.strategy.steps: [100] is [100] alone, which would switch all traffic at once with nothing judged first; set strategy.mirror',
    ],
    [
      { analysis: { sampleRatio: { test: 'g-test' } } },
      'spec.analysis.sampleRatio.test: "g-test" is not a test; expected sequential or chi-squared',
    ],
    [
      { strategy: { minStageDuration: '5 minutes' } },
      'spec.strategy.minStageDuration: "5 minutes" is not a duration; expected a number with a unit, such as 30s, 5m, 2h',
    ],
    [{ strategy: { approvals: [75] } }, 'spec.strategy.approvals[0]: 75 is not one of the steps (10, 25, 50, 100)'],
    [{ strategy: { minStageDuration: '3h' } }, 'spec.strategy.maxDuration: "2h" is shorter than minStageDuration (3h)'],
    [{ canary: { version: 'v1' } }, 'spec.canary.version: "v1" is the same as stable.version'],
    [
      { virtualService: { name: 'Predictor!', route: 'primary' } },
      'spec.virtualService.name: "Predictor!" is not a DNS label',
    ],
    [{ analysis: { alpha: 1.5 } }, 'spec.analysis.alpha: 1.5 is not below 1'],
    [
      { analysis: { guardrails: [{ name: 'errors', query: 'x' }] } },
      'spec.analysis.guardrails[0]: {"name":"errors","query":"x"} has no bound; set one of min, max',
    ],
    [
      { analysis: { comparisons: [{ name: 'acc', type: 'ratio' }] } },
      'spec.analysis.comparisons[0].type: "ratio" is not a comparison type; expected proportion, mean, histogram, paired-proportion or paired-mean',
    ],
    [
      {
        analysis: {
          comparisons: [{ name: 'shadow', type: 'paired-proportion', canaryOnly: 'b', stableOnly: 'c', pairs: 'n' }],
        },
      },
      'spec.analysis.comparisons[0].type: "paired-proportion" is judged only in a mirror stage, and this rollout has none; set strategy.mirror',
    ],
    [
      { analysis: { comparisons: [{ name: 'acc', type: 'proportion', successes: 'a' }] } },
      'spec.analysis.comparisons[0].trials: missing',
    ],
    [
      { analysis: { comparisons: [{ name: 'latency', type: 'histogram', buckets: 'b', resolution: -5 }] } },
      'spec.analysis.comparisons[0].resolution: -5 is not a positive bucket bound',
    ],
    [{ model: '' }, 'spec.model: "" is empty; expected the model name'],
  ])('%j → %s', (spec, message) => {
    const { errors } = validateModelRollout(withSpec(spec));
    expect(errors.join('\n')).toContain(message);
  });

  test('steps [100] is a blue-green switch only after a mirror stage', () => {
    expect(validateModelRollout(withSpec({ strategy: { steps: [100] } })).errors).toHaveLength(1);
    expect(
      validateModelRollout(withSpec({ strategy: { steps: [100], mirror: { percent: 100, duration: '10m' } } })).errors,
    ).toEqual([]);
  });

  test('wrong kind, apiVersion and missing parts are named', () => {
    expect(validateModelRollout({ kind: 'Deployment' }).errors).toEqual([
      'apiVersion: missing is not weir.dev/v1alpha1',
      'kind: "Deployment" is not ModelRollout',
      'metadata.name: missing; expected the rollout name',
      'spec: missing; expected the rollout spec',
    ]);
    expect(validateText('a: [1,\n')[0]!.errors[0]).toMatch(/^YAML: /);
    expect(validateText(`${stringify(minimal)}---\n${stringify({ ...minimal, kind: 'X' })}`)[1]!.errors).toEqual([
      'document 2: kind: "X" is not ModelRollout',
    ]);
  });
});

describe('CRD', () => {
  test('the committed CRD is what the schema generates (run `make crd` after changing the schema)', async () => {
    const committed = await readFile(path.join(root, 'manifests/crds/modelrollouts.weir.dev.yaml'), 'utf8');
    expect(committed).toBe(modelRolloutCrdYaml());
  });

  test('the schema is structural: no oneOf/anyOf, every property typed or preserving unknown fields', () => {
    const text = modelRolloutCrdYaml();
    expect(text).not.toMatch(/oneOf|anyOf|\$schema/);
    expect(text).toContain('x-kubernetes-preserve-unknown-fields: true');
  });
});
