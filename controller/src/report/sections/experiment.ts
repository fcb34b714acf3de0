// The report's experiment section (strategy.experiment): each version's weight
// over time from the split history, the arms at the last look (a bandit's
// reward, P(best) and estimated regret, as a chart and a table), the versions
// taken out and the winner.
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
  const versions = [spec.stable, spec.canary, ...(spec.candidates ?? [])].map((r) => r.version);
  const state = status.experiment;
  const blocks: Block[] = [
    { kind: 'heading', level: 2, text: 'Experiment' },
    {
      kind: 'paragraph',
      text: `${experiment.type === 'abn' ? 'A/B/n on a fixed split' : `Bandit (${experiment.algorithm}) on the reward ${experiment.reward}, floor ${experiment.floor}% per version, stopping when one version holds P(best) ≥ ${experiment.stopProbability} for ${experiment.sustain}`}. Control ${versions[0]}; candidates ${versions.slice(1).join(', ')}. ${state?.winner ? `Winner: ${state.winner}.` : 'No winner yet.'}`,
    },
  ];
  const start = data.span.start * 1000;
  const history = status.weightHistory;
  if (history.length > 0) {
    const end = Math.max(data.span.end - data.span.start, (Date.parse(history.at(-1)!.at) - start) / 1000);
    const series = versions.map((version) => {
      const points: [number, number][] = history.map((h) => [
        (Date.parse(h.at) - start) / 1000,
        h.weights[version] ?? 0,
      ]);
      // The split in force at the end: a finished experiment's route, else the last split.
      const last = status.weights?.[version] ?? points.at(-1)![1];
      return { version, points: [...points, [Math.max(1, end), last] as [number, number]] };
    });
    blocks.push({
      kind: 'chart',
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
    });
  }
  const arms = state?.arms ?? [];
  if (arms.some((a) => a.pBest !== undefined)) {
    const width = 640;
    const rowHeight = 28;
    const height = 40 + arms.length * rowHeight;
    const x0 = 90;
    const x1 = width - 70;
    const bars = arms
      .map((a, i) => {
        const y = 30 + i * rowHeight;
        const p = a.pBest ?? 0;
        return `<text x="${x0 - 8}" y="${y + 14}" text-anchor="end">${esc(a.version)}</text><rect class="data" x="${x0}" y="${y}" width="${(x1 - x0) * p}" height="18" fill="${PALETTE[i % PALETTE.length]}"><title>${esc(`${a.version}: P(best) ${fmt(p)}`)}</title></rect><text x="${x0 + (x1 - x0) * p + 6}" y="${y + 14}">${esc(fmt(p))}</text>`;
      })
      .join('');
    blocks.push({
      kind: 'chart',
      svg: `<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="experiment-pbest" role="img" aria-label="P(best) per version" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" font-family="sans-serif" font-size="11"><title>P(best) per version at the last look</title><rect x="0" y="0" width="${width}" height="${height}" fill="#fff"/><text x="${x0}" y="18">P(version has the highest ${esc(experiment.reward ?? 'reward')}) at the last look</text><line x1="${x0}" x2="${x0}" y1="26" y2="${height - 6}" stroke="#888"/>${bars}</svg>`,
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
