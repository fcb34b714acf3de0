// The Prometheus provider against a real Prometheus scraping a real predictor,
// and the rule that an unreachable Prometheus makes the rollout hold.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { emptyStatus, specSchema } from '../../controller/src/api/schema.js';
import { observe, planQueries } from '../../controller/src/analysis/observations.js';
import { decide } from '../../controller/src/engine/decide.js';
import type { PredictorProcess } from '../../controller/src/local/predictor-process.js';
import { startPrometheus, type PrometheusProcess } from '../../controller/src/local/prometheus-process.js';
import { freePort } from '../../controller/src/local/free-port.js';
import { PrometheusMetrics } from '../../controller/src/providers/prometheus/provider.js';
import { MODEL, infer, marketRows, predictor, request, waitFor } from '../support/predictor.js';
import { aSpecInput } from '../support/fixtures.js';

const spec = specSchema.parse({
  ...aSpecInput({ model: MODEL }),
  strategy: { steps: [50, 100], minStageDuration: '1s', minSamplesPerStage: 10, maxDuration: '1h' },
  analysis: {
    samples: 'sum(weir_predictor_requests_total{model="{{model}}",version="{{version}}",endpoint="infer"})',
    guardrails: [
      {
        name: 'errors',
        query: 'sum(weir_predictor_requests_total{version="{{version}}",code!="200"}) or vector(0)',
        max: 100,
      },
    ],
    comparisons: [
      {
        name: 'accuracy',
        type: 'proportion',
        successes: 'sum(weir_predictor_feedback_total{version="{{version}}",outcome="correct"})',
        trials: 'sum(weir_predictor_feedback_total{version="{{version}}"})',
      },
      {
        name: 'latency',
        type: 'histogram',
        better: 'lower',
        buckets: 'sum by (le) (weir_predictor_request_duration_seconds_bucket{version="{{version}}",endpoint="infer"})',
      },
    ],
  },
});

let v1: PredictorProcess;
let v2: PredictorProcess;
let prometheus: PrometheusProcess;

beforeAll(async () => {
  [v1, v2] = await Promise.all([predictor({ version: 'v1' }), predictor({ version: 'v2' })]);
  prometheus = await startPrometheus({
    targets: [{ job: 'predictors', targets: [new URL(v1.url).host, new URL(v2.url).host] }],
  });
  // Traffic and ground truth for both versions.
  for (const server of [v1, v2]) {
    for (const [i, row] of marketRows(30).entries()) {
      const reply = await infer(server, [row.features], { extra: { id: `r${i}` } });
      await request(`${server.url}/v2/models/${MODEL}/feedback`, { body: { id: reply.body.id, label: row.label } });
    }
  }
}, 60_000);
afterAll(async () => {
  await prometheus?.stop();
  await Promise.all([v1?.stop(), v2?.stop()]);
});

describe('PrometheusMetrics', () => {
  test('answers the planned queries from a real Prometheus: numbers, bucket counts, and observations', async () => {
    const provider = new PrometheusMetrics({ url: prometheus.url });
    expect(await provider.ready()).toBe(true);
    const plan = planQueries(spec, { namespace: 'local', window: '5m' });
    // Each target is scraped on its own schedule: wait until every counter has landed.
    const settled = [
      'samples/stable',
      'samples/canary',
      'comparison/accuracy/trials/stable',
      'comparison/accuracy/trials/canary',
    ];
    await waitFor(
      async () => {
        const { results } = await provider.query(plan);
        return settled.every((key) => results.get(key) === 30);
      },
      30_000,
      "Prometheus to scrape both predictors' final counters",
    );
    const { results, failures } = await provider.query(plan);
    expect(failures).toEqual([]);
    expect(results.get('samples/stable')).toBe(30);
    const buckets = results.get('comparison/latency/buckets/canary') as { le: number; value: number }[];
    expect(buckets.at(-1)).toEqual({ le: Infinity, value: 30 });
    const observations = observe(spec, results);
    expect(observations.comparisons[0]).toMatchObject({
      type: 'proportion',
      stable: { trials: 30 },
      canary: { trials: 30 },
    });
    expect(observations.comparisons[1]).toMatchObject({ type: 'histogram', stable: expect.any(Array) });
  });

  test('a bad query is a failure for that key only, not an exception', async () => {
    const provider = new PrometheusMetrics({ url: prometheus.url, retries: 0 });
    const { results, failures } = await provider.query([
      { key: 'bad', kind: 'scalar', query: 'sum(' },
      { key: 'good', kind: 'scalar', query: 'vector(1)' },
    ]);
    expect(results.get('bad')).toBeUndefined();
    expect(results.get('good')).toBe(1);
    expect(failures).toEqual([{ key: 'bad', error: expect.stringContaining('HTTP 400') }]);
  });

  test('when Prometheus is unreachable every metric is nodata and the rollout holds', async () => {
    // A free port nobody listens on (fetch refuses some ports outright, 9 among them).
    const provider = new PrometheusMetrics({ url: `http://127.0.0.1:${await freePort()}`, retries: 1, timeoutMs: 500 });
    const { results, failures } = await provider.query(planQueries(spec, { namespace: 'local', window: '5m' }));
    expect([...results.values()].every((v) => v === undefined)).toBe(true);
    expect(failures[0]!.error).toContain('ECONNREFUSED');
    const start = decide({
      spec,
      status: emptyStatus(),
      observations: observe(spec, results),
      commands: [],
      now: Date.parse('2026-11-22T10:00:00Z'),
    });
    const later = decide({
      spec,
      status: start.statusPatch,
      observations: observe(spec, results),
      commands: [],
      now: Date.parse('2026-11-22T10:30:00Z'),
    });
    expect(later.action).toBe('hold');
    expect(later.canaryWeight).toBe(50);
    expect(later.reasons.filter((r) => r.verdict === 'nodata').map((r) => r.metric)).toEqual([
      'errors',
      'accuracy',
      'latency',
    ]);
  });
});
