// `weir demo --dashboard` as a person runs it: the dashboard's address (with
// its token) is printed while the demo runs, it lists the demo's rollout, and
// it stops with the demo.
import { expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { WEIR } from '../support/cli.js';

test('weir demo --dashboard prints the dashboard, which lists the running rollout, and stops with the demo', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'weir-demo-dashboard-'));
  try {
    const child = spawn(
      process.execPath,
      [WEIR, 'demo', '--scenario', 'slow', '--json', '--dashboard', '0', '--report', path.join(dir, 'r.md')],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const address = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        const m = /^dashboard: (http:\/\/127\.0\.0\.1:\d+\/)#token=[0-9a-f]{48} \(it stops with the demo\)$/m.exec(
          stderr,
        );
        if (m) resolve(m[1]!);
      });
      void exited.then(() => reject(new Error(`the demo ended without printing the dashboard:\n${stderr}`)));
    });
    const listing = (await (await fetch(`${address}api/rollouts`)).json()) as {
      mode: string;
      rows: { name: string }[];
    };
    expect(listing.mode).toBe('local');
    expect(listing.rows.map((r) => r.name)).toEqual(['price-direction']);
    expect(await exited).toBe(0);
    expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toMatchObject({ scenario: 'slow', phase: 'RolledBack' });
    await expect(fetch(`${address}api/rollouts`)).rejects.toThrow();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}, 300_000);
