// The report's analysis at each decision: every metric's verdict, effect, CI, adjusted p and boundary, and a forest chart per comparison.

import type { Reason } from '../../api/schema.js';

import { type ReportData } from '../collect.js';
import { fmt, forestChart } from '../svg.js';
import { interval, seconds, type Block } from '../blocks.js';

function reasonRow(r: Reason, alpha: number): string[] {
  const boundary =
    r.kind !== 'comparison' || r.boundary === undefined
      ? '-'
      : r.boundary < 1
        ? `p ≤ ${fmt(r.boundary)}`
        : `|z| ≥ ${fmt(r.boundary)} (z ${fmt(r.z ?? NaN)})`;
  const values =
    r.kind === 'guardrail' ? `${fmt(r.value ?? NaN)} / ${r.stableValue === undefined ? '-' : fmt(r.stableValue)}` : '-';
  return [
    r.metric ?? '-',
    r.kind,
    r.verdict,
    r.effect === undefined ? '-' : fmt(r.effect),
    interval(r.ci),
    r.adjustedPValue === undefined
      ? r.pValue === undefined
        ? '-'
        : fmt(r.pValue)
      : `${fmt(r.adjustedPValue)}${r.adjustedPValue <= alpha ? ' *' : ''}`,
    boundary,
    r.samples ? `${Math.round(r.samples.stable)} / ${Math.round(r.samples.canary)}` : '-',
    values,
    r.threshold === undefined ? '-' : fmt(r.threshold),
  ];
}

/** The analysis at each decision, and a forest chart per comparison. */
export function analysisBlocks(data: ReportData): Block[] {
  const { spec, status } = data.rollout;
  const start = data.span.start * 1000;
  const judged = status!.history.filter((h) =>
    (h.analysis ?? []).some((r) => r.kind === 'guardrail' || r.kind === 'comparison'),
  );
  const blocks: Block[] = [{ kind: 'heading', level: 2, text: 'Analysis at each decision' }];
  if (judged.length === 0) return [...blocks, { kind: 'paragraph', text: 'No decision was taken on metrics yet.' }];
  blocks.push({
    kind: 'paragraph',
    text: `Effects are canary − stable (${spec.canary.version} − ${spec.stable.version}). Each stage's numbers cover that stage only. p is Holm-adjusted (mSPRT: always valid); * marks p ≤ alpha. The boundary is what the test had to reach at that look. Latency comparisons are on the probability-of-superiority scale (0 = no shift).`,
  });
  const history = status!.history;
  for (const h of judged) {
    // The numbers are those of the stage the rollout was in before this step.
    const before = history[history.indexOf(h) - 1];
    const on = before ? `stage ${before.stage} (${before.canaryWeight}%)` : 'the stage before';
    blocks.push({
      kind: 'heading',
      level: 3,
      text: `+${seconds(Date.parse(h.at) - start)}: ${h.action} to ${h.canaryWeight}%, on the analysis of ${on}`,
    });
    blocks.push({
      kind: 'table',
      header: [
        'metric',
        'kind',
        'verdict',
        'effect',
        'CI',
        'p',
        'boundary',
        'samples stable / canary',
        'canary / stable',
        'threshold',
      ],
      rows: h
        .analysis!.filter((r) => r.kind === 'guardrail' || r.kind === 'comparison')
        .map((r) => reasonRow(r, spec.analysis.alpha)),
    });
  }
  // One forest chart per comparison: its effect and interval at each decision, against ±minEffect.
  for (const c of spec.analysis.comparisons) {
    const looks = judged
      .map((h) => ({
        h,
        r: h.analysis!.find((r) => r.kind === 'comparison' && r.metric === c.name && r.effect !== undefined && r.ci),
      }))
      .filter((x): x is { h: (typeof judged)[number]; r: Reason } => x.r !== undefined);
    if (looks.length === 0) continue;
    const svg = forestChart({
      id: `effect-${c.name}`,
      title: `${c.name}: canary − stable and its interval at each decision (dashed: ±minEffect)`,
      label: `${c.name}, canary − stable`,
      minEffect: c.minEffect,
      looks: looks.map(({ h, r }) => ({
        effect: r.effect!,
        ci: [r.ci![0]!, r.ci![1]!],
        label: `${h.action} to ${h.canaryWeight}%: ${r.verdict}`,
        title: `${h.action} at stage ${h.stage}: ${r.message}`,
      })),
    });
    blocks.push({
      kind: 'chart',
      svg,
      alt: `${c.name}: canary − stable and its interval at each decision (dashed lines: ±minEffect)`,
    });
  }
  return blocks;
}
