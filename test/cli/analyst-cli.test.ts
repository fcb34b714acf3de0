// The analyst commands, run as a user runs them (the built CLI), on inputs not
// used by the unit tests. Expected values: scipy 1.17.1 via
// test/stats-reference/reference.py ("cli" block). Tolerances as accepted:
// 0.1% relative on statistics and CIs, 0.5% on p-values.
import { describe, expect, test } from '@jest/globals';

import { runWeir } from '../support/cli.js';

const run = (...args: string[]) => runWeir(args);
async function json(...args: string[]): Promise<Record<string, any>> {
  const { stdout, code } = await run(...args, '--json');
  expect(code).toBe(0);
  return JSON.parse(stdout.trim().split('\n').at(-1)!);
}
const near = (actual: number, expected: number, rel: number) =>
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(Math.abs(expected) * rel);

describe('weir compare / sample-size', () => {
  test('proportion: stable 230/1000, canary 270/1000', async () => {
    const r = await json('compare', 'proportion', '--stable', '230/1000', '--canary', '270/1000');
    expect(r).toMatchObject({ test: 'two-proportion-z', verdict: 'better' });
    near(r.difference, 0.04, 1e-3);
    near(r.ci[0], 0.0020859671005082764, 1e-3);
    near(r.ci[1], 0.07791403289949174, 1e-3);
    near(r.pValue, 0.03886710381241731, 5e-3);
  });

  test('mean: stable 150,2.3,0.9 vs canary 140,2.55,1.1', async () => {
    const r = await json('compare', 'mean', '--stable', '150,2.3,0.9', '--canary', '140,2.55,1.1');
    expect(r).toMatchObject({ test: 'welch-t', verdict: 'better' });
    near(r.t, 2.1096590343225317, 1e-3);
    near(r.df, 268.9944597076496, 1e-3);
    near(r.ci[0], 0.01668953071042159, 1e-3);
    near(r.ci[1], 0.48331046928957844, 1e-3);
    near(r.pValue, 0.03581152850793953, 5e-3);
  });

  test('histogram: buckets 0.005,0.01,0.025,+Inf; stable 40,90,140,150; canary 30,70,120,150', async () => {
    const r = await json(
      'compare',
      'histogram',
      '--buckets',
      '0.005,0.01,0.025,+Inf',
      '--stable',
      '40,90,140,150',
      '--canary',
      '30,70,120,150',
    );
    expect(r).toMatchObject({ test: 'mann-whitney-u', u: 13300, verdict: 'worse' });
    near(r.pValue, 0.004470837608692086, 5e-3);
  });

  test('sample sizes: proportion 0.10 + 0.02 → 3841; mean sd 2, mde 0.5 → 252', async () => {
    expect(await json('sample-size', 'proportion', '--baseline', '0.1', '--mde', '0.02')).toMatchObject({
      perArm: 3841,
    });
    expect(await json('sample-size', 'mean', '--sd', '2', '--mde', '0.5')).toMatchObject({ perArm: 252 });
  });

  test('human output by default; bad arguments get one line naming the argument', async () => {
    const human = await run('compare', 'proportion', '--stable', '230/1000', '--canary', '270/1000');
    expect(human.stdout).toContain('z 2.06559, p 0.0388671: better');
    const bad = await run('compare', 'mean', '--stable', '150,2.3', '--canary', '140,2.55,1.1');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.split('\n')[0]).toBe(
      "error: option '--stable <N,MEAN,SD>' argument '150,2.3' is invalid. expected N,MEAN,SD with a whole N >= 2 and SD >= 0, such as 200,0.15,0.03",
    );
    const unsorted = await run(
      'compare',
      'histogram',
      '--buckets',
      '0.1,0.05,+Inf',
      '--stable',
      '1,2,3',
      '--canary',
      '1,2,3',
    );
    expect(unsorted.stderr.trim()).toBe('error: buckets[1]: 0.05 does not rise above 0.1; bucket bounds must rise');
    expect(unsorted.stderr).not.toContain('    at ');
  });
});
