import { describe, expect, test } from '@jest/globals';
import { specSchema } from '../api/schema.js';
import { judgeGuardrail } from './guardrail.js';
import { observe, planQueries, type QueryResult } from './observations.js';
import { renderQuery, windowText } from './template.js';
import { aSpecInput } from '../../../test/support/fixtures.js';

const spec = specSchema.parse({
  ...aSpecInput(),
  analysis: {
    guardrails: [{ name: 'errors', query: 'err{v="{{version}}",ns="{{namespace}}"}', max: 0.05 }],
    comparisons: [
      {
        name: 'accuracy',
        type: 'proportion',
        successes: 'ok{v="{{version}}"}[{{window}}]',
        trials: 'all{v="{{version}}"}[{{window}}]',
      },
      {
        name: 'value',
        type: 'mean',
        count: 'c{v="{{version}}"}',
        sum: 's{v="{{version}}"}',
        sumOfSquares: 'q{v="{{version}}"}',
      },
      { name: 'latency', type: 'histogram', buckets: 'b{v="{{version}}",m="{{model}}"}' },
    ],
  },
});

describe('templates', () => {
  test('fill every placeholder, and name an unknown one', () => {
    const vars = { version: 'v2', stable: 'v1', canary: 'v2', namespace: 'models', window: '300s', model: 'm' };
    expect(renderQuery('x{a="{{version}}",b="{{ stable }}",c="{{canary}}"}[{{window}}]', vars)).toBe(
      'x{a="v2",b="v1",c="v2"}[300s]',
    );
    expect(() => renderQuery('x{{verison}}', vars, 'spec.analysis.guardrails[0].query')).toThrow(
      'spec.analysis.guardrails[0].query: unknown placeholder {{verison}}',
    );
    expect(windowText(299_001)).toBe('300s');
    expect(windowText(10, 30)).toBe('30s');
  });
});

describe('query plan and observations', () => {
  test('every metric is asked for both versions, with rendered queries', () => {
    const plan = planQueries(spec, { namespace: 'models', window: '120s' });
    expect(plan.map((q) => q.key)).toContain('comparison/accuracy/trials/canary');
    expect(plan.find((q) => q.key === 'guardrail/errors/stable')!.query).toBe('err{v="v1",ns="models"}');
    expect(plan.find((q) => q.key === 'comparison/accuracy/successes/canary')!.query).toBe('ok{v="v2"}[120s]');
    expect(plan.find((q) => q.key === 'comparison/latency/buckets/canary')).toMatchObject({
      kind: 'buckets',
      query: 'b{v="v2",m="price-direction"}',
    });
    expect(plan).toHaveLength(2 * (1 + 1 + 2 + 3 + 1));
  });

  test('in warm-up only guardrails are asked (over the stage so far); with a baseline, the reference arm is the baseline', () => {
    const warming = planQueries(spec, { namespace: 'models', window: '20s', warming: true });
    expect(warming.map((q) => q.key)).toEqual(['guardrail/errors/stable', 'guardrail/errors/canary']);
    const withBaseline = specSchema.parse({ ...spec, baseline: { version: 'v1-baseline' } });
    const plan = planQueries(withBaseline, { namespace: 'models', window: '40s' });
    expect(plan.find((q) => q.key === 'comparison/accuracy/successes/stable')!.query).toBe('ok{v="v1-baseline"}[40s]');
    expect(plan.find((q) => q.key === 'guardrail/errors/stable')!.query).toBe('err{v="v1-baseline",ns="models"}');
    expect(plan.find((q) => q.key === 'samples/canary')!.query).toContain('destination_version="v2"');
  });

  test('counts from increase() are rounded; missing data stays undefined (nodata)', () => {
    const results = new Map<string, QueryResult>([
      ['samples/stable', 1000.4],
      ['comparison/accuracy/successes/stable', 600.6],
      ['comparison/accuracy/trials/stable', 999.7],
      ['comparison/accuracy/successes/canary', 10.2],
      ['comparison/value/count/stable', 4],
      ['comparison/value/sum/stable', 10],
      ['comparison/value/sumOfSquares/stable', 30],
      [
        'comparison/latency/buckets/stable',
        [
          { le: Infinity, value: 30 },
          { le: 0.01, value: 10.2 },
        ],
      ],
      [
        'comparison/latency/buckets/canary',
        [
          { le: 0.01, value: 5 },
          { le: Infinity, value: 20 },
        ],
      ],
      ['guardrail/errors/canary', Number.NaN],
    ]);
    const o = observe(spec, results);
    expect(o.samples).toEqual({ stable: 1000.4, canary: undefined });
    expect(o.guardrails).toEqual([{ name: 'errors', canary: undefined, stable: undefined }]);
    expect(o.comparisons[0]).toEqual({
      name: 'accuracy',
      type: 'proportion',
      stable: { successes: 601, trials: 1000 },
      canary: undefined,
    });
    expect(o.comparisons[1]).toMatchObject({ type: 'mean', stable: { n: 4, mean: 2.5 }, canary: undefined });
    expect(o.comparisons[2]).toEqual({
      name: 'latency',
      type: 'histogram',
      bounds: [0.01, Infinity],
      stable: [10, 30],
      canary: [5, 20],
    });
  });
});

describe('guardrails', () => {
  const g = (bounds: Record<string, number>) => ({ name: 'g', query: 'q', failureLimit: 1, ...bounds });
  test.each([
    [{ max: 0.05 }, 0.06, 0.01, 'high'],
    [{ max: 0.05 }, 0.04, undefined, 'pass'],
    [{ min: 0.5 }, 0.4, undefined, 'low'],
    [{ maxRatio: 1.5 }, 31, 20, 'high'],
    [{ maxRatio: 1.5 }, 29, 20, 'pass'],
    [{ minRatio: 0.9 }, 17, 20, 'low'],
    [{ maxIncrease: 0.01 }, 0.03, 0.01, 'high'],
    [{ maxDecrease: 0.02 }, 0.55, 0.6, 'low'],
    [{ maxRatio: 1.5 }, 31, undefined, 'nodata'],
    [{ max: 1 }, undefined, 0.5, 'nodata'],
  ])('%j with canary %s and stable %s is %s', (bounds, canary, stable, verdict) => {
    expect(judgeGuardrail(g(bounds), { name: 'g', canary, stable }).verdict).toBe(verdict);
  });
});
