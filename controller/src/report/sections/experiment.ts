// The report's experiment section (strategy.experiment): each version's weight
// over time from the split history, the arms at the last look (a bandit's
// reward, P(best) and estimated regret, as a chart and a table), the versions
// taken out and the winner.
import { experimentVersions } from '../../analysis/observations.js';
import { baselineShare } from '../../engine/route.js';
import { type ReportData } from '../collect.js';
import { chart, esc, fmt, line } from '../svg.js';
import { seconds, type Block } from '../blocks.js';

/** One color per version, the control first. */
const PALETTE = [
  '#1f77b4',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#ff7f0e',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
  '#000',
];

/** The experiment section; empty for a rollout without strategy.experiment. */
export function experimentBlocks(data: ReportData): Block[] {
  const { spec, status } = data.rollout;
  const experiment = spec.strategy.experiment;
  if (!experiment || !status) return [];
  const versions = experimentVersions(spec);
  const state = status.experiment;
  const blocks: Block[] = [
    { kind: 'heading', level: 2, text: 'Experiment' },
    {
      kind: 'paragraph',
      text: `${experiment.type === 'abn' ? 'A/B/n on a fixed split' : `Bandit (${experiment.algorithm}) on the reward ${experiment.reward}, floor ${experiment.floor}% per version, stopping when one version holds P(best) ≥ ${experiment.stopProbability} for ${experiment.sustain}`}. Control ${versions[0]}; candidates ${versions.slice(1).join(', ')}. ${state?.winner ? `Winner: ${state.winner}.` : 'No winner yet.'}`,
    },
  ];
  const start = data.span.start * 1000;
  const weights = weightsChart(data);
  if (weights) blocks.push({ kind: 'chart', ...weights });
  const arms = state?.arms ?? [];
  if (arms.some((a) => a.pBest !== undefined)) {
    // One bar per version, top to bottom in spec order, on the report's own chart frame.
    const rows = arms.length;
    blocks.push({
      kind: 'chart',
      svg: chart(
        {
          id: 'experiment-pbest',
          title: `P(version has the highest ${experiment.reward ?? 'reward'}) at the last look`,
          x: { min: 0, max: 1, label: 'P(best)' },
          y: { min: 0, max: rows, label: 'version', format: () => '' },
          height: 80 + rows * 28,
        },
        (sx, sy) =>
          arms
            .map((a, i) => {
              const p = a.pBest ?? 0;
              const [top, bottom] = [sy(rows - i - 0.2), sy(rows - i - 0.8)];
              return `<text x="${sx(0) - 6}" y="${(top + bottom) / 2 + 4}" text-anchor="end">${esc(a.version)}</text><rect class="data" x="${sx(0)}" y="${top}" width="${sx(p) - sx(0)}" height="${bottom - top}" fill="${PALETTE[i % PALETTE.length]}"><title>${esc(`${a.version}: P(best) ${fmt(p)}`)}</title></rect><text x="${sx(p) + 6}" y="${(top + bottom) / 2 + 4}">${esc(fmt(p))}</text>`;
            })
            .join(''),
      ),
      alt: `P(best) per version at the last look: ${arms.map((a) => `${a.version} ${fmt(a.pBest ?? 0)}`).join(', ')}`,
    });
  }
  if (arms.length > 0)
    blocks.push({
      kind: 'table',
      header: ['version', 'weight', 'rewards', 'mean reward', 'P(best)', 'estimated regret'],
      rows: arms.map((a) => [
        a.version,
        `${a.weight}%`,
        a.rewards === undefined ? '-' : String(a.rewards),
        a.mean === undefined ? '-' : fmt(a.mean, 4),
        a.pBest === undefined ? '-' : fmt(a.pBest),
        a.regret === undefined ? '-' : fmt(a.regret),
      ]),
    });
  if ((state?.dropped.length ?? 0) > 0)
    blocks.push({
      kind: 'list',
      items: state!.dropped.map((d) => `${d.version} taken out at +${seconds(Date.parse(d.at) - start)}: ${d.reason}`),
    });
  return blocks;
}

/**
 * Each version's weight over time as a step chart: an experiment's split
 * history, or a rollout's steps (stable, baseline and canary). The report's
 * experiment section and the dashboard's rollout page both draw it; undefined
 * before the first step.
 */
export function weightsChart(data: ReportData): { svg: string; alt: string } | undefined {
  const { spec, status } = data.rollout;
  if (!status) return undefined;
  const start = data.span.start * 1000;
  const experiment = spec.strategy.experiment !== undefined;
  const versions = experiment
    ? experimentVersions(spec)
    : [spec.stable.version, ...(spec.baseline ? [spec.baseline.version] : []), spec.canary.version];
  const history: { at: string; weights: Record<string, number> }[] = experiment
    ? status.weightHistory
    : status.history.map((h) => {
        const baseline = spec.baseline ? baselineShare(h.canaryWeight) : 0;
        return {
          at: h.at,
          weights: {
            [spec.stable.version]: 100 - h.canaryWeight - baseline,
            ...(spec.baseline ? { [spec.baseline.version]: baseline } : {}),
            [spec.canary.version]: h.canaryWeight,
          },
        };
      });
  if (history.length === 0) return undefined;
  const end = Math.max(data.span.end - data.span.start, (Date.parse(history.at(-1)!.at) - start) / 1000);
  const series = versions.map((version) => {
    const points: [number, number][] = history.map((h) => [(Date.parse(h.at) - start) / 1000, h.weights[version] ?? 0]);
    // The split in force at the end: a finished experiment's route, else the last split.
    const last = (experiment ? status.weights?.[version] : undefined) ?? points.at(-1)![1];
    return { version, points: [...points, [Math.max(1, end), last] as [number, number]] };
  });
  return {
    svg: chart(
      {
        id: 'experiment-weights',
        title: 'Each version’s weight over time',
        x: { min: 0, max: Math.max(1, end), label: 'seconds since the rollout started' },
        y: { min: 0, max: 100, label: 'weight %' },
        legend: series.map((s, i) => ({ label: s.version, color: PALETTE[i % PALETTE.length]! })),
      },
      (sx, sy) => series.map((s, i) => line(s.points, sx, sy, PALETTE[i % PALETTE.length]!, true)).join(''),
    ),
    alt: `Each version's weight over time (${series.map((s) => s.version).join(', ')}); each change of the split is a step`,
  };
}
