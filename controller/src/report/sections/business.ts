// The report's business impact: the value of switching with its interval, and the recommendation.

import { type ReportData } from '../collect.js';
import { fmt } from '../svg.js';
import { interval, pct, type Block } from '../blocks.js';

/** The business impact, its interval and the recommendation. */
export function businessBlocks(data: ReportData): Block[] {
  const { spec, status } = data.rollout;
  const blocks: Block[] = [{ kind: 'heading', level: 2, text: 'Business impact and recommendation' }];
  if (data.totals.length) {
    blocks.push({
      kind: 'table',
      header: ['version', 'requests', 'error rate', 'labelled predictions', 'accuracy', 'mean latency ms (± se)'],
      rows: data.totals.map((t) => [
        t.version,
        String(Math.round(t.requests)),
        pct(t.errors / Math.max(1, t.requests)),
        String(Math.round(t.labelled)),
        pct(t.correct / Math.max(1, t.labelled)),
        `${fmt(t.meanLatencyMs)} ± ${fmt(t.latencySeMs)}`,
      ]),
    });
  }
  const b = data.business;
  const c = spec.analysis.business;
  if (b && c) {
    blocks.push({
      kind: 'paragraph',
      text: `Value = ${c.revenuePerAccuracyPoint} × Δaccuracy (points) − ${c.costPerMs} × Δlatency (ms) ${c.riskPerErrorPoint < 0 ? '−' : '+'} ${Math.abs(c.riskPerErrorPoint)} × Δerror rate (points), canary − stable over the whole rollout, with a delta-method interval.`,
    });
    blocks.push({
      kind: 'table',
      header: [
        'value',
        `${Math.round((1 - spec.analysis.alpha) * 100)}% CI`,
        'P(value > 0)',
        'from accuracy',
        'from latency',
        'from error rate',
        'recommendation',
      ],
      rows: [
        [
          fmt(b.value),
          interval(b.ci),
          fmt(b.probabilityPositive),
          fmt(b.contributions.accuracy),
          fmt(b.contributions.latency),
          fmt(b.contributions.errorRate),
          b.recommendation,
        ],
      ],
    });
  } else if (!c)
    blocks.push({
      kind: 'paragraph',
      text: 'The rollout sets no spec.analysis.business coefficients, so there is no value estimate.',
    });
  const outcome =
    status!.phase === 'Promoted'
      ? `weir promoted ${spec.canary.version}.`
      : status!.phase === 'RolledBack'
        ? `weir rolled ${spec.canary.version} back (${status!.message ?? 'no reason recorded'}).`
        : `The rollout is ${status!.phase} (${status!.message ?? ''}).`;
  const advice = !b
    ? ''
    : b.recommendation === 'REJECT'
      ? ` The business estimate says do not ship ${spec.canary.version}.`
      : b.recommendation === 'CONTINUE_TESTING'
        ? ' The business estimate cannot tell yet: more traffic narrows the interval.'
        : ` The business estimate favours ${spec.canary.version} (${b.recommendation}).`;
  blocks.push({ kind: 'paragraph', text: `Recommendation: ${outcome}${advice}` });
  return blocks;
}
