// The demo scenarios end to end: real predictors, gateway, Prometheus,
// Alertmanager, load generator and controller. bad-accuracy and slow run as a
// user runs them (`weir demo --scenario X --json`); bad-accuracy's HTML report
// is opened in headless Chromium. good runs in-process so that, before it
// stops, every Grafana dashboard query is run against its real Prometheus.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runScenario } from '../../controller/src/local/demo/scenario.js';
import { substituteVariables } from '../../controller/src/observability/dashboard-variables.js';
import { DASHBOARDS, dashboardQueries, variableSelectors } from '../../controller/src/observability/dashboards.js';
import { renderInChromium } from '../support/chromium.js';
import { runDemoJson } from '../support/cli.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'weir-demo-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const demo = (scenario: string, ...extra: string[]) => runDemoJson(scenario, path.join(dir, `${scenario}.html`), extra);

/** Every dashboard query over the run, as Grafana would ask it for this rollout; what came back per query. */
async function dashboardData(
  prometheusUrl: string,
  startedAt: number,
): Promise<{ where: string; series: number; values: number }[]> {
  const values = { namespace: '.*', model: 'price-direction', rollout: 'price-direction', version: '.*' };
  const intervals = { rate: '4s', interval: '2s' }; // Grafana's $__rate_interval is 4 scrape intervals (1 s here)
  const results: { where: string; series: number; values: number }[] = [];
  const get = async (api: string, params: Record<string, string>) => {
    const body = (await (await fetch(`${prometheusUrl}/api/v1/${api}?${new URLSearchParams(params)}`)).json()) as {
      status: string;
      error?: string;
      data: { result: { metric: Record<string, string>; values?: [number, string][]; value?: [number, string] }[] };
    };
    if (body.status !== 'success') throw new Error(`${params.query}: ${body.error}`);
    return body.data.result;
  };
  for (const [file, build] of Object.entries(DASHBOARDS)) {
    const board = build();
    for (const q of dashboardQueries(board)) {
      const series = await get('query_range', {
        query: substituteVariables(q.expr, values, intervals),
        start: String(startedAt / 1000),
        end: String(Date.now() / 1000),
        step: '2',
      });
      results.push({
        where: `${file} ${q.where}`,
        series: series.length,
        values: series.flatMap((s) => s.values ?? []).filter(([, v]) => Number.isFinite(Number(v))).length,
      });
    }
    // Grafana asks for label_values(selector, label) over the dashboard's time range: the label values API.
    for (const v of variableSelectors(board)) {
      const params = new URLSearchParams({
        'match[]': substituteVariables(v.expr, values, intervals),
        start: String(startedAt / 1000),
        end: String(Date.now() / 1000),
      });
      const body = (await (await fetch(`${prometheusUrl}/api/v1/label/${v.label}/values?${params}`)).json()) as {
        status: string;
        data: string[];
      };
      results.push({
        where: `${file} ${v.where}`,
        series: body.status === 'success' ? body.data.length : 0,
        values: body.status === 'success' ? body.data.length : 0,
      });
    }
  }
  return results;
}

describe('weir demo', () => {
  test('good: v2 is promoted after weights 10, 25, 50, 100 with no failed request; every dashboard query returns data', async () => {
    let dashboards: Awaited<ReturnType<typeof dashboardData>> = [];
    const r = await runScenario('good', {
      reportPath: path.join(dir, 'good.md'),
      beforeStop: async ({ prometheusUrl, startedAt }) => {
        dashboards = await dashboardData(prometheusUrl, startedAt);
      },
    });
    expect(dashboards.length).toBeGreaterThan(25);
    // Listed by name, so a failure says which panel came back empty.
    expect(dashboards.filter((d) => d.series === 0 || d.values === 0).map((d) => d.where)).toEqual([]);
    // The Markdown report: the promotion, the approval by the demo, the correlation table.
    const markdown = await readFile(path.join(dir, 'good.md'), 'utf8');
    expect(markdown).toMatch(/^# Experiment report: price-direction\n/);
    expect(markdown).toContain('Promoted after');
    expect(markdown).toContain('weir-demo (automatic approval)');
    expect(markdown).toMatch(/\| accuracy \| \d+ \| -?[\d.]+ \| \[/);
    expect(markdown).toContain('![Canary weight over time');
    expect(r).toMatchObject({
      scenario: 'good',
      phase: 'Promoted',
      weightsApplied: [10, 25, 50, 100],
      failedRequests: 0,
      rollbackReason: null,
    });
    expect(r.durationSeconds).toBeLessThan(400);
    // A healthy split is not called a mismatch: the last sample-ratio check passed.
    expect(r.srm).toMatchObject({ detected: false });
    expect(r.srm!.pValue).toBeGreaterThan(0.001);
    expect(r.finalWeights).toEqual({ v1: 0, v2: 100 });
    const [v1, v2] = r.table as [(typeof r.table)[number], (typeof r.table)[number]];
    expect(v2.accuracy).toBeGreaterThan(v1.accuracy);
    // Alertmanager's API: the approval alert resolved once the demo approved; the promotion was announced.
    const names = r.alertsActive.map((a: { alertname: string }) => a.alertname);
    expect(names).toContain('WeirCanaryPromoted');
    expect(names).not.toContain('WeirRolloutAwaitingApproval');
  }, 450_000);

  test('bad-accuracy with a baseline: v3 is judged against fresh v1-baseline predictors with its share, and rolled back at the first stage, no failed request', async () => {
    const r = await demo('bad-accuracy', '--baseline');
    expect(r).toMatchObject({
      scenario: 'bad-accuracy',
      phase: 'RolledBack',
      failedRequests: 0,
      baseline: 'v1-baseline',
    });
    // The stage gate holds a worse canary at 10% until the evidence rolls it back.
    expect(r.weightsApplied).toEqual([10, 0]);
    expect(r.rollbackReason).toMatch(
      /^rolled back: accuracy: harmful, canary − baseline -0\.\d+ \(CI -0\.\d+ to -0\.\d+\)/,
    );
    expect(r.durationSeconds).toBeLessThan(400);
    // The baseline answered users (as v1's model), about as many requests as the canary: the same share.
    expect(r.answeredBy['v1-baseline']).toBeGreaterThan(0.5 * r.answeredBy.v3);
    expect(r.answeredBy['v1-baseline']).toBeLessThan(2 * r.answeredBy.v3);
    expect(r.table.map((row: { version: string }) => row.version)).toEqual(['v1', 'v1-baseline', 'v3']);
    // The rollback reached the real Alertmanager as a critical alert, still active.
    expect(r.alertsActive).toContainEqual({ alertname: 'WeirCanaryRolledBack', severity: 'critical', state: 'active' });
    // The report it wrote, in a real browser: every chart drawn with data, no console error, no outside request.
    expect(r.report).toBe(path.join(dir, 'bad-accuracy.html'));
    const page = await renderInChromium(r.report);
    await writeFile(path.join(dir, 'bad-accuracy.png'), page.screenshot);
    expect(page.screenshot.length).toBeGreaterThan(50_000);
    expect(page.consoleErrors).toEqual([]);
    expect(page.title).toBe('Experiment report: price-direction');
    const charts = new Map(page.charts.map((c) => [c.id, c]));
    const html = await readFile(r.report, 'utf8');
    // A canary this bad can be rolled back at the first stage within seconds (more often on a busy
    // machine, where fewer labelled rows reach it and the early market rows weigh more): the
    // report then has fewer than two windows and must say why it draws no series.
    const short = /shorter than two \d+ s windows: no metrics over time/.test(html);
    if (short) expect(r.weightsApplied).toEqual([10, 0]);
    // Marks each chart draws at the least: the timeline a line and two steps; the effect chart one decision
    // (its interval and its dot: a rollback can come at the first judged stage); the others three or more points.
    const least: Record<string, number> = {
      timeline: 3,
      'effect-accuracy': 2,
      ...(short ? {} : { 'series-accuracy': 3, 'series-business value': 3, 'correlation-accuracy': 3 }),
    };
    expect([...charts.keys()]).toEqual(expect.arrayContaining(Object.keys(least)));
    for (const [id, marks] of Object.entries(least)) {
      expect(charts.get(id)).toMatchObject({ width: 640 });
      expect(charts.get(id)!.height).toBeGreaterThan(100);
      expect(charts.get(id)!.visibleMarks).toBeGreaterThanOrEqual(marks);
    }
    for (const chart of page.charts) expect(chart.visibleMarks).toBeGreaterThan(0);
    expect(html).toContain('harmful');
    expect(html).toContain('judged against baseline v1-baseline');
    expect(html).toContain('warm-up 5 s at the start of each stage');
    expect(html).not.toMatch(/<script|src="http|href="http/);
  }, 450_000);

  test('slow: v4 is rolled back with a reason, final weight 0, no failed request', async () => {
    const r = await demo('slow');
    expect(r).toMatchObject({ scenario: 'slow', phase: 'RolledBack', failedRequests: 0 });
    expect(r.weightsApplied.at(-1)).toBe(0);
    expect(r.rollbackReason).toMatch(/latency/);
  }, 450_000);

  test('shadow: v2 is scored on the same requests as v1 before it takes traffic, then promoted', async () => {
    const r = await demo('shadow');
    // rollbackReason null: a failure shows why it was rolled back.
    expect(r).toMatchObject({ scenario: 'shadow', phase: 'Promoted', failedRequests: 0, rollbackReason: null });
    // The mirror stage applies weight 0 (mirrored only), then the canary steps.
    expect(r.weightsApplied).toEqual([0, 10, 25, 50, 100]);
    // Scored on labelled pairs: at least minSamplesPerStage (100) of them, v2 the more accurate.
    expect(r.shadow).toMatchObject({ version: 'v2' });
    expect(r.shadow.labelled).toBeGreaterThanOrEqual(100);
    expect(r.shadow.accuracy).toBeGreaterThan(r.shadow.stableAccuracy);
    // v2 is better; whether that is significant by the time the stage's gates open depends on the pairs so far.
    expect(['better', 'inconclusive']).toContain(r.shadow.verdict);
    expect(r.answeredBy.v2).toBeGreaterThan(0);
  }, 450_000);

  test('bad-shadow: v3 is rejected in the shadow stage, and no user request is ever answered by it', async () => {
    const r = await demo('bad-shadow');
    expect(r).toMatchObject({ scenario: 'bad-shadow', phase: 'RolledBack', failedRequests: 0 });
    expect(r.weightsApplied).toEqual([0]);
    expect(r.rollbackReason).toMatch(/shadow-accuracy: harmful/);
    expect(r.shadow).toMatchObject({ version: 'v3', verdict: 'harmful' });
    expect(r.shadow.accuracy).toBeLessThan(r.shadow.stableAccuracy);
    // As the client saw it: every answer came from v1; and Istio-style metrics agree.
    expect(Object.keys(r.answeredBy)).toEqual(['v1']);
    expect(r.answeredBy.v1).toBeGreaterThan(100);
    const v3 = r.table.find((row: { version: string }) => row.version === 'v3');
    expect(v3).toMatchObject({ version: 'v3', requests: 0 });
  }, 450_000);

  test('srm: half the requests for v2 are diverted to v1; the sample-ratio check pauses the rollout at 10% and the alert fires', async () => {
    const r = await demo('srm');
    expect(r).toMatchObject({ scenario: 'srm', phase: 'Paused', failedRequests: 0, rollbackReason: null });
    expect(r.weightsApplied).toEqual([10]);
    expect(r.finalWeights).toEqual({ v1: 90, v2: 10 });
    expect(r.srm.detected).toBe(true);
    expect(r.srm.pValue).toBeLessThan(0.001);
    // Prometheus counted what was served: v2 near 5% of requests, not its 10% weight.
    expect(r.versions.v2.share).toBeGreaterThan(0.02);
    expect(r.versions.v2.share).toBeLessThan(0.08);
    expect(r.versions.v1.requests + r.versions.v2.requests).toBeGreaterThan(1000);
    // weir's own rule, evaluated by the demo's Prometheus, reached Alertmanager.
    expect(r.alertsActive.map((a: { alertname: string }) => a.alertname)).toContain('WeirSampleRatioMismatch');
  }, 450_000);

  test('abn: v1 control, v2 and v3 candidates on an even split; v2 wins over the control and v3, and gets all traffic', async () => {
    const r = await demo('abn');
    expect(r).toMatchObject({ scenario: 'abn', phase: 'Promoted', winner: 'v2', failedRequests: 0 });
    expect(r.finalWeights).toEqual({ v1: 0, v2: 100, v3: 0 });
    // The experiment started on the even split. The split changes only when a candidate is taken out (v3, worse
    // than the control), which gives its share to the control; v2 may win before that happens.
    expect(r.weightHistory[0].weights).toEqual({ v1: 34, v2: 33, v3: 33 });
    for (const { weights } of r.weightHistory.slice(1)) expect(weights).toEqual({ v1: 67, v2: 33, v3: 0 });
    expect(r.versions.v3.accuracy).toBeLessThan(r.versions.v1.accuracy);
    expect(r.versions.v2.accuracy).toBeGreaterThan(r.versions.v1.accuracy);
    expect(r.srm.detected).toBe(false);
    expect(r.durationSeconds).toBeLessThan(300);
  }, 450_000);

  test('bandit: Thompson sampling over v1, v2 and v3 on accuracy moves the split to v2, which wins once P(best) holds', async () => {
    const r = await demo('bandit');
    expect(r).toMatchObject({ scenario: 'bandit', phase: 'Promoted', winner: 'v2', failedRequests: 0 });
    expect(r.finalWeights).toEqual({ v1: 0, v2: 100, v3: 0 });
    const splits = r.weightHistory.map((h: { weights: Record<string, number> }) => h.weights);
    expect(splits[0]).toEqual({ v1: 34, v2: 33, v3: 33 });
    // Before the winner took everything, the bandit gave v2 most of the traffic, with the floor (2%) kept for the others.
    const adaptive = splits.filter((w: Record<string, number>) => w.v2! > 50 && w.v2! < 100);
    expect(adaptive.length).toBeGreaterThan(0);
    expect(r.versions.v2.share).toBeGreaterThan(r.versions.v1.share);
    expect(r.versions.v2.share).toBeGreaterThan(r.versions.v3.share);
    expect(r.durationSeconds).toBeLessThan(300);
  }, 450_000);

  test('blue-green: v2 is scored on mirrored traffic, then takes all traffic in one switch, and v1 stays in the route for scaleDownDelay before Promoted', async () => {
    const r = await demo('blue-green');
    expect(r).toMatchObject({ scenario: 'blue-green', phase: 'Promoted', failedRequests: 0, rollbackReason: null });
    // One switch: from the mirror stage (0%) straight to 100%.
    expect(r.weightsApplied).toEqual([0, 100]);
    expect(r.finalWeights).toEqual({ v1: 0, v2: 100 });
    expect(r.shadow.version).toBe('v2');
    expect(['better', 'inconclusive']).toContain(r.shadow.verdict);
    expect(r.answeredBy.v1).toBeGreaterThan(0);
    expect(r.answeredBy.v2).toBeGreaterThan(0);
    // The 100% stage lasted scaleDownDelay (10 s) before the promotion.
    const switched = r.steps.find(
      (s: { canaryWeight: number; action: string }) => s.canaryWeight === 100 && s.action === 'advance',
    );
    const promoted = r.steps.find((s: { action: string }) => s.action === 'promote');
    expect(promoted.atSeconds - switched.atSeconds).toBeGreaterThanOrEqual(10);
  }, 450_000);
});
