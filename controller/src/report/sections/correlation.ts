// The report's correlation of each model metric with the realized business value, across windows (Pearson with a Fisher interval, and Spearman).

import { correlation, type Correlation } from '../../stats/correlation.js';

import { VALUE_METRIC, type ReportData } from '../collect.js';
import { chart, COLORS, dots, fmt, rangeOf } from '../svg.js';
import { interval, type Block } from '../blocks.js';

function reading(c: Correlation): string {
  const strength =
    Math.abs(c.r) >= 0.7 ? 'strong' : Math.abs(c.r) >= 0.4 ? 'moderate' : Math.abs(c.r) >= 0.2 ? 'weak' : 'no clear';
  const sign = c.r >= 0 ? 'positive' : 'negative';
  const significant = c.pValue < 0.05 && (c.ci[0] > 0 || c.ci[1] < 0);
  return `${strength} ${strength === 'no clear' ? 'link' : `${sign} link`}${significant ? '' : ' (not significant at 0.05)'}`;
}

/** How each model metric moved with the business value across windows. */
export function correlationBlocks(data: ReportData): Block[] {
  if (data.windows.length === 0) return [];
  const { spec } = data.rollout;
  const versions = [spec.stable.version, spec.canary.version];
  const blocks: Block[] = [
    { kind: 'heading', level: 2, text: 'Model metrics and business value' },
    {
      kind: 'paragraph',
      text: `Does each model metric move with the business value? Each pair is one ${data.windowSeconds} s window of one version; both versions are pooled. Pearson's r with a 95% Fisher interval, and Spearman's rho for links that are monotone but not straight. A metric that does not track value is a poor stand-in for it.`,
    },
  ];
  const rows: string[][] = [];
  const charts: Block[] = [];
  for (const metric of data.modelMetrics) {
    const pairs = data.windows.filter((w) => w.values[metric] !== undefined && w.values[VALUE_METRIC] !== undefined);
    const c = correlation(
      pairs.map((w) => w.values[metric]!),
      pairs.map((w) => w.values[VALUE_METRIC]!),
    );
    rows.push([
      metric,
      String(pairs.length),
      c ? fmt(c.r) : '-',
      c ? interval(c.ci) : '-',
      c ? fmt(c.pValue) : '-',
      c ? fmt(c.rho) : '-',
      c ? reading(c) : 'too few windows or no variation',
    ]);
    if (!c) continue;
    const svg = chart(
      {
        id: `correlation-${metric}`,
        title: `${metric} vs ${VALUE_METRIC} (r ${fmt(c.r)})`,
        x: { ...rangeOf(pairs.map((w) => w.values[metric]!)), label: metric },
        y: { ...rangeOf(pairs.map((w) => w.values[VALUE_METRIC]!)), label: VALUE_METRIC },
        legend: versions.map((v, i) => ({ label: v, color: i === 0 ? COLORS.stable : COLORS.canary })),
      },
      (sx, sy) =>
        versions
          .map((v, i) =>
            dots(
              pairs.filter((w) => w.version === v).map((w) => [w.values[metric]!, w.values[VALUE_METRIC]!]),
              sx,
              sy,
              i === 0 ? COLORS.stable : COLORS.canary,
            ),
          )
          .join(''),
    );
    charts.push({
      kind: 'chart',
      svg,
      alt: `${metric} against ${VALUE_METRIC}, one dot per window and version (r ${fmt(c.r)})`,
    });
  }
  return [
    ...blocks,
    { kind: 'table', header: ['metric', 'windows', 'r', '95% CI', 'p', 'rho', 'reading'], rows },
    ...charts,
  ];
}
