// The report renderer on a stored rollout without Prometheus: the design, the
// timeline and every verdict are there; the sections that need Prometheus are
// named as left out; text from the rollout is escaped; nothing outside is referenced.
import { describe, expect, test } from '@jest/globals';
import { emptyStatus } from '../../controller/src/api/schema.js';
import { validateText } from '../../controller/src/api/validate.js';
import { demoRolloutYaml } from '../../controller/src/local/demo/rollout-spec.js';
import { collectReport } from '../../controller/src/report/collect.js';
import { histogramMoments } from '../../controller/src/analysis/impact.js';
import { renderHtml, renderMarkdown } from '../../controller/src/report/render.js';
import { reportFormat } from '../../controller/src/report/write.js';
import { decide } from '../../controller/src/engine/decide.js';
import { observe } from '../../controller/src/analysis/observations.js';
import { experimentObservations } from '../support/fixtures.js';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { packageRoot } from '../../shared/paths.js';

function storedRollout() {
  const rollout = validateText(demoRolloutYaml('v2'))[0]!.rollout!;
  const accuracy = {
    kind: 'comparison' as const,
    metric: 'accuracy',
    verdict: 'harmful',
    message: 'accuracy: harmful <b>',
    effect: -0.08,
    ci: [-0.12, -0.01],
    pValue: 0.03,
    adjustedPValue: 0.035,
    z: -2.4,
    boundary: 0.05,
    samples: { stable: 864, canary: 804 },
  };
  const guard = {
    kind: 'guardrail' as const,
    metric: 'error-rate',
    verdict: 'pass',
    message: 'ok',
    value: 0,
    stableValue: 0,
  };
  rollout.status = {
    ...emptyStatus(),
    phase: 'RolledBack',
    startedAt: '2026-11-23T10:00:00.000Z',
    message: 'rolled back: <script>alert(1)</script>',
    history: [
      {
        stepId: 'a1-s0-progressing',
        action: 'advance',
        stage: 0,
        canaryWeight: 10,
        at: '2026-11-23T10:00:00.000Z',
        summary: 'started at stage 0 (10%)',
        analysis: [],
      },
      {
        stepId: 'a1-s1-progressing',
        action: 'advance',
        stage: 1,
        canaryWeight: 25,
        at: '2026-11-23T10:00:20.000Z',
        summary: 'advanced to 25%',
        analysis: [guard, { ...accuracy, verdict: 'inconclusive', adjustedPValue: 0.6 }],
      },
      {
        stepId: 'a1-s1-rolledback',
        action: 'rollback',
        stage: 1,
        canaryWeight: 0,
        at: '2026-11-23T10:00:41.000Z',
        summary: 'rolled back: accuracy harmful',
        analysis: [guard, accuracy],
      },
    ],
  };
  return rollout;
}

describe('weir report without Prometheus', () => {
  test('Markdown: design, timeline, per-decision verdicts with effect, CI, p and boundary; left-out sections named', async () => {
    const data = await collectReport(storedRollout(), { now: Date.parse('2026-11-23T11:00:00Z') });
    expect(data.span).toEqual({
      start: Date.parse('2026-11-23T10:00:00Z') / 1000,
      end: Date.parse('2026-11-23T10:00:41Z') / 1000,
    });
    const md = renderMarkdown(data);
    expect(md).toMatch(/^# Experiment report: price-direction\n/);
    expect(md).toContain('Hypothesis: v2 has higher accuracy than v1, by at least 0.01');
    expect(md).toContain('| 0 | 10% | 10s | 100 | - |');
    expect(md).toContain('| +41 s | rollback | 1 | 0% | - | rolled back: accuracy harmful |');
    expect(md).toContain('### +41 s: rollback to 0%, on the analysis of stage 1 (25%)');
    expect(md).toContain(
      '| accuracy | comparison | harmful | -0.08 | [-0.12, -0.01] | 0.035 * | p ≤ 0.05 | 864 / 804 | - | - |',
    );
    expect(md).toContain('![Canary weight over time');
    expect(md).toContain('No Prometheus was given (--prometheus)');
  });

  test('HTML: rollout text is escaped, no script or outside reference, charts inline', async () => {
    const html = renderHtml(await collectReport(storedRollout()));
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(html).toContain("default-src 'none'");
    expect((html.match(/<svg /g) ?? []).length).toBe(2); // the timeline, and accuracy's effect at each decision (latency has none)
  });

  test('histogram moments from cumulative buckets (midpoints; +Inf at the last bound), format choice', () => {
    // Buckets le 5, 10, +Inf with 2, 5, 6 cumulative: 2 at 2.5, 3 at 7.5, 1 at 10 → mean 6.25, var 9.375/... by hand.
    const m = histogramMoments([
      { le: 5, value: 2 },
      { le: 10, value: 5 },
      { le: Infinity, value: 6 },
    ])!;
    const values = [2.5, 2.5, 7.5, 7.5, 7.5, 10];
    const mean = values.reduce((a, b) => a + b, 0) / 6;
    const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / 5;
    expect(m.n).toBe(6);
    expect(m.mean).toBeCloseTo(mean, 12);
    expect(m.se).toBeCloseTo(Math.sqrt(variance / 6), 12);
    expect(reportFormat({ out: 'r.HTML' })).toBe('html');
    expect(reportFormat({ out: 'r.md' })).toBe('md');
    expect(() => reportFormat({ format: 'pdf' })).toThrow(
      '--format: "pdf" is not a report format; expected md or html',
    );
  });

  test('an experiment: each version’s weight over time, P(best) per arm, the arms table, versions taken out', async () => {
    const { rollout } = validateText(
      await readFile(path.join(packageRoot(), 'manifests', 'examples', 'price-direction-bandit.yaml'), 'utf8'),
    )[0]!;
    const { spec } = rollout!;
    const t0 = Date.parse('2026-11-24T10:00:00Z');
    // v3 fails the error-rate guardrail twice and is taken out.
    const observations = experimentObservations(spec, {
      v1: { accuracy: 0.55, labelled: 2000, requests: 3000 },
      v2: { accuracy: 0.61, labelled: 2000, requests: 3000 },
      v3: { accuracy: 0.57, labelled: 2000, requests: 3000, guardrail: 0.2 },
    });
    let status = decide({
      spec,
      status: emptyStatus(),
      observations: observe(spec, new Map()),
      commands: [],
      now: t0,
    }).statusPatch;
    for (const minutes of [1, 2])
      status = decide({
        spec,
        status,
        observations,
        commands: [],
        now: t0 + minutes * 60_000,
      }).statusPatch;
    const data = await collectReport({ ...rollout!, status }, { now: t0 + 3 * 60_000 });
    const md = renderMarkdown(data);
    expect(md).toContain('v1 (control) against v2, v3');
    expect(md).toContain('## Experiment');
    expect(md).toContain('Bandit (thompson) on the reward accuracy, floor 1% per version');
    expect(md).toContain("![Each version's weight over time (v1, v2, v3)");
    expect(md).toMatch(/!\[P\(best\) per version at the last look: v1 [\d.e-]+, v2 (1|0\.9\d*), v3 0\]/);
    expect(md).toContain('alpha 0.05 (family-wise across 2 comparisons (2 candidates × 1), Holm)');
    expect(md).toContain('| version | weight | rewards | mean reward | P(best) | estimated regret |');
    expect(md).toMatch(/\| v1 \| \d+% \| 2000 \| 0\.55 \| [\d.e-]+ \| 120 \|/);
    expect(md).toContain('- v3 taken out at +120 s: guardrail error-rate failed 2 time(s) in a row');
    const html = renderHtml(data);
    expect(html).toContain('data-chart="experiment-weights"');
    expect(html).toContain('data-chart="experiment-pbest"');
  });
});
