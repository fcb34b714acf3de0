// The Grafana dashboards: current with their source, the variables and panels the
// design asks for, and every query valid PromQL as Prometheus's own parser
// (promtool) reads it. The local end-to-end run (test/demo) checks that each
// query returns data from a real Prometheus.
import { describe, expect, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { packageRoot } from '../../shared/paths.js';
import { substituteVariables } from '../../controller/src/observability/dashboard-variables.js';
import { DASHBOARDS, dashboardQueries, variableSelectors } from '../../controller/src/observability/dashboards.js';

const run = promisify(execFile);
const ALL = { namespace: '.*', model: '.*', rollout: '.*', version: '.*' };

/** promtool check rules on one recording rule per expression: it fails naming the first that does not parse. */
async function promtoolParses(exprs: { where: string; expr: string }[]): Promise<{ ok: boolean; output: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'weir-dashboards-'));
  try {
    const file = path.join(dir, 'queries.rules.yml');
    await writeFile(
      file,
      stringify({
        groups: [
          {
            name: 'dashboard-queries',
            rules: exprs.map((e, i) => ({
              record: `weir:dashboard_query_${i}`,
              expr: e.expr,
              labels: { where: e.where.replace(/"/g, "'") },
            })),
          },
        ],
      }),
    );
    try {
      const { stdout, stderr } = await run('promtool', ['check', 'rules', file]);
      return { ok: true, output: stdout + stderr };
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string };
      return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('dashboards/', () => {
  test.each(Object.keys(DASHBOARDS))('%s is what `make dashboards` writes', async (file) => {
    const committed = JSON.parse(await readFile(path.join(packageRoot(), 'dashboards', file), 'utf8'));
    expect(committed).toEqual(JSON.parse(JSON.stringify(DASHBOARDS[file as keyof typeof DASHBOARDS]())));
  });

  test('each has a datasource variable plus namespace, model and rollout; every panel queries the chosen datasource', () => {
    for (const build of Object.values(DASHBOARDS)) {
      const board = build();
      const names = (board.templating.list as { name: string }[]).map((v) => v.name);
      expect(names).toEqual(expect.arrayContaining(['datasource', 'namespace', 'model', 'rollout']));
      expect(board.templating.list[0]).toMatchObject({ name: 'datasource', type: 'datasource', query: 'prometheus' });
      for (const panel of board.panels as { datasource: { uid: string }; targets: unknown[] }[]) {
        expect(panel.datasource.uid).toBe('${datasource}');
        expect(panel.targets.length).toBeGreaterThan(0);
      }
    }
  });

  test('the panels the design lists are there', () => {
    const titles = (build: () => { panels: unknown[] }) =>
      (build().panels as { title: string }[]).map((p) => p.title).join('\n');
    const rollouts = titles(DASHBOARDS['rollouts.json']);
    for (const title of [
      /configured vs actual traffic share/,
      /Requests by version and code/,
      /Latency p50, p95, p99/,
      /Error rate/,
      /Accuracy with 95% band/,
      /Business value/,
      /Stage timeline/,
      /Analysis verdicts/,
    ])
      expect(rollouts).toMatch(title);
    const predictors = titles(DASHBOARDS['predictors.json']);
    for (const title of [
      /Batch size/,
      /cache hit ratio/,
      /Queue depth/,
      /Model loads/,
      /Latency p50, p95, p99/,
      /Accuracy with 95% band/,
    ])
      expect(predictors).toMatch(title);
    // The stage timeline also marks every panel: an annotation at each stage's start, from the controller's metric.
    expect(DASHBOARDS['rollouts.json']().annotations.list).toContainEqual(
      expect.objectContaining({
        expr: expect.stringContaining('weir_rollout_stage_started_timestamp_seconds'),
        useValueForTime: true,
      }),
    );
  });

  test('every panel, annotation and variable query is valid PromQL (promtool), and a broken one is caught', async () => {
    const exprs = Object.values(DASHBOARDS).flatMap((build) => {
      const board = build();
      return [...dashboardQueries(board), ...variableSelectors(board)].map((q) => ({
        where: q.where,
        expr: substituteVariables(q.expr, ALL),
      }));
    });
    expect(exprs.length).toBeGreaterThan(25);
    for (const e of exprs) expect(e.expr).not.toMatch(/\$/);
    const good = await promtoolParses(exprs);
    expect(good.output).toContain(`SUCCESS: ${exprs.length} rules found`);
    expect(good.ok).toBe(true);
    // The check can fail: one missing parenthesis is reported.
    const bad = await promtoolParses([{ where: 'broken', expr: 'sum(rate(istio_requests_total[1m])' }]);
    expect(bad.ok).toBe(false);
    expect(bad.output).toMatch(/parse error|unclosed|expected/i);
  });
});
