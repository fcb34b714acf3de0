// Experiments through the CLI as a person uses it (issue 15): every example in
// manifests/examples passes `weir validate` (other kinds in the same file are
// passed over), a broken bandit is refused with the field named, and `weir get`,
// `weir status` and `weir history` show each version's weight and the bandit's
// arms from a local store.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { emptyStatus } from '../../controller/src/api/schema.js';
import { decide } from '../../controller/src/engine/decide.js';
import { observe } from '../../controller/src/analysis/observations.js';
import { FileRolloutStore } from '../../controller/src/providers/file/store.js';
import { packageRoot } from '../../shared/paths.js';
import { runWeir } from '../support/cli.js';
import { experimentObservations } from '../support/fixtures.js';

const examples = path.join(packageRoot(), 'manifests', 'examples');
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'weir-experiment-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('experiments in the CLI', () => {
  test('every example in manifests/examples passes weir validate, one per strategy', async () => {
    const files = (await readdir(examples)).filter((f) => f.endsWith('.yaml'));
    expect(files).toEqual(
      expect.arrayContaining([
        'price-direction.yaml',
        'price-direction-shadow.yaml',
        'price-direction-baseline.yaml',
        'price-direction-abn.yaml',
        'price-direction-bandit.yaml',
        'price-direction-blue-green.yaml',
      ]),
    );
    for (const file of files) {
      const result = await runWeir(['validate', path.join(examples, file)]);
      expect({ file, ...result }).toEqual({ file, code: 0, stdout: '', stderr: '' });
    }
  });

  test('weir validate names the field of a bandit without a reward, and of a split that does not sum to 100', async () => {
    const doc = parse(await readFile(path.join(examples, 'price-direction-bandit.yaml'), 'utf8'));
    delete doc.spec.strategy.experiment.reward;
    const bad = path.join(dir, 'bad-bandit.yaml');
    await writeFile(bad, stringify(doc));
    const result = await runWeir(['validate', bad]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `${bad}: spec.strategy.experiment.reward: missing; a bandit needs a reward: the name of a proportion or mean comparison in analysis.comparisons (such as accuracy)`,
    );
    const abn = parse(await readFile(path.join(examples, 'price-direction-abn.yaml'), 'utf8'));
    abn.spec.strategy.experiment.weights = { v1: 50, v2: 25, v3: 20 };
    await writeFile(bad, stringify(abn));
    expect((await runWeir(['validate', bad])).stderr).toMatch(
      /spec\.strategy\.experiment\.weights: \{"v1":50,"v2":25,"v3":20\} sums to 95; the weights must sum to 100/,
    );
  });

  test('weir get, status and history show every version of a running bandit', async () => {
    const local = path.join(dir, 'rollouts');
    await rm(local, { recursive: true, force: true });
    await (await import('node:fs/promises')).mkdir(local);
    await copyFile(path.join(examples, 'price-direction-bandit.yaml'), path.join(local, 'price-direction-bandit.yaml'));
    const store = new FileRolloutStore(local);
    const stored = await store.get('price-direction-bandit');
    const { spec } = stored.rollout;
    // Two looks as the controller takes them: the start, then one after the burn-in with v2 ahead.
    const t0 = Date.parse('2026-11-24T10:00:00Z');
    const first = decide({
      spec,
      status: emptyStatus(),
      observations: observe(spec, new Map()),
      commands: [],
      now: t0,
    });
    const arm = (accuracy: number) => ({ accuracy, labelled: 2000, requests: 3000 });
    const observations = experimentObservations(spec, { v1: arm(0.55), v2: arm(0.61), v3: arm(0.57) });
    const second = decide({
      spec,
      status: first.statusPatch,
      observations,
      commands: [],
      now: t0 + 31 * 60_000,
    });
    await store.writeStatus('price-direction-bandit', second.statusPatch, stored.revision);
    const { weights } = second.statusPatch;
    const split = `v1 ${weights!.v1}%, v2 ${weights!.v2}%, v3 ${weights!.v3}%`;

    const got = await runWeir(['get', 'rollouts', '--local', local]);
    expect(got.stderr).toBe('');
    expect(got.stdout).toMatch(
      new RegExp(`price-direction-bandit\\s+price-direction\\s+v1\\s+v2,v3\\s+Progressing\\s+${split}`),
    );

    const status = await runWeir(['status', 'price-direction-bandit', '--local', local]);
    expect(status.stdout).toContain(`Progressing, bandit (thompson on accuracy), control v1, split ${split}`);
    expect(status.stdout).toMatch(
      /arm v2: weight \d+%, mean reward 0\.61 over 2000, P\(best\) 0\.9\d*, estimated regret 0/,
    );
    expect(status.stdout).toMatch(
      /arm v1: weight 1%, mean reward 0\.55 over 2000, P\(best\) [\d.e-]+, estimated regret 120/,
    );
    expect(status.stdout).toContain(`split at ${new Date(t0 + 31 * 60_000).toISOString()}: thompson: ${split}`);

    const history = await runWeir(['history', 'price-direction-bandit', '--local', local]);
    expect(history.stdout).toMatch(
      /advance\s+0\s+v1=34,v2=33,v3=33\s+-\s+started the bandit \(thompson\): v1 34%, v2 33%, v3 33%/,
    );
  });
});
