// The report's metrics over time: each model metric and the business value per version, over non-overlapping windows.

import { VALUE_METRIC, type ReportData } from '../collect.js';
import { chart, COLORS, dots, line, rangeOf } from '../svg.js';
import { type Block } from '../blocks.js';

/** Each metric over time, per version. */
export function seriesBlocks(data: ReportData): Block[] {
  if (data.windows.length === 0) return [];
  const { spec } = data.rollout;
  const versions = [spec.stable.version, spec.canary.version];
  const colors = [COLORS.stable, COLORS.canary];
  const blocks: Block[] = [
    { kind: 'heading', level: 2, text: 'Metrics over time' },
    {
      kind: 'paragraph',
      text: `Each point is one ${data.windowSeconds} s window (non-overlapping), per version, from Prometheus.`,
    },
  ];
  for (const metric of [...data.modelMetrics, VALUE_METRIC]) {
    const perVersion = versions.map((v) =>
      data.windows
        .filter((w) => w.version === v && w.values[metric] !== undefined)
        .map((w) => [w.end - data.span.start, w.values[metric]!] as [number, number]),
    );
    const all = perVersion.flat();
    if (all.length === 0) continue;
    const svg = chart(
      {
        id: `series-${metric}`,
        title: `${metric} per ${data.windowSeconds} s window`,
        x: { min: 0, max: Math.max(1, data.span.end - data.span.start), label: 'seconds since the rollout started' },
        y: { ...rangeOf(all.map((p) => p[1])), label: metric },
        legend: versions.map((v, i) => ({ label: `${v} (${i === 0 ? 'stable' : 'canary'})`, color: colors[i]! })),
      },
      (sx, sy) =>
        perVersion.map((points, i) => line(points, sx, sy, colors[i]!) + dots(points, sx, sy, colors[i]!)).join(''),
    );
    blocks.push({ kind: 'chart', svg, alt: `${metric} per version, per ${data.windowSeconds} s window` });
  }
  return blocks;
}
