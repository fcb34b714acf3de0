// The report's stage timeline: a chart of the canary weight over time and a table of every step with who took it.

import { type ReportData } from '../collect.js';
import { chart, COLORS, dots, line } from '../svg.js';
import { seconds, type Block } from '../blocks.js';

/** The stage timeline: a chart of the canary weight and a table of every step with who took it. */
export function timelineBlocks(data: ReportData): Block[] {
  const { history } = data.rollout.status!;
  const start = data.span.start * 1000;
  const blocks: Block[] = [{ kind: 'heading', level: 2, text: 'Stage timeline' }];
  if (history.length === 0) return [...blocks, { kind: 'paragraph', text: 'The rollout has taken no step yet.' }];
  const points: [number, number][] = history.map((h) => [(Date.parse(h.at) - start) / 1000, h.canaryWeight]);
  const end = Math.max(data.span.end - data.span.start, points.at(-1)![0]);
  const colorOf = (action: string) =>
    action === 'rollback'
      ? COLORS.canary
      : action === 'promote'
        ? '#2ca02c'
        : action === 'await-approval'
          ? '#ff7f0e'
          : COLORS.stable;
  const svg = chart(
    {
      id: 'timeline',
      title: 'Canary weight at each step',
      x: { min: 0, max: Math.max(1, end), label: 'seconds since the rollout started' },
      y: { min: 0, max: 100, label: 'canary weight %' },
    },
    (sx, sy) =>
      line([...points, [end, points.at(-1)![1]]], sx, sy, COLORS.neutral, true) +
      history
        .map((h, i) =>
          dots([points[i]!], sx, sy, colorOf(h.action), [`${h.action} at ${h.canaryWeight}%: ${h.summary}`]),
        )
        .join(''),
  );
  blocks.push({
    kind: 'chart',
    svg,
    alt: 'Canary weight over time; each dot is a step (red: rollback, green: promotion, orange: waiting for approval)',
  });
  blocks.push({
    kind: 'table',
    header: ['time', 'action', 'stage', 'weight', 'by', 'summary'],
    rows: history.map((h) => [
      `+${seconds(Date.parse(h.at) - start)}`,
      h.action,
      String(h.stage),
      `${h.canaryWeight}%`,
      h.by ?? '-',
      h.summary,
    ]),
  });
  return blocks;
}
