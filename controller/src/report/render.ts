// The experiment report of one rollout, as Markdown or as one HTML file with
// inline SVG charts. The content is built once as blocks; each format renders
// the same blocks. Nothing refers to an outside asset, and no script runs.
import { parseDuration } from '../../../shared/duration.js';
import type { Reason } from '../api/schema.js';
import { stagesOf } from '../engine/stages.js';
import { correlation, type Correlation } from '../stats/correlation.js';
import { sampleSizeMean, sampleSizeProportion, samplesEta } from '../stats/sample-size.js';
import { VALUE_METRIC, type ReportData } from './collect.js';
import { chart, COLORS, dots, esc, fmt, line, rangeOf } from './svg.js';

type Block =
  | { kind: 'heading'; level: 1 | 2 | 3; text: string }
  | { kind: 'paragraph'; text: string }
  | { kind: 'list'; items: string[] }
  | { kind: 'table'; header: string[]; rows: string[][] }
  | { kind: 'chart'; svg: string; alt: string };

const seconds = (ms: number) => `${fmt(ms / 1000)} s`;
const pct = (x: number, digits = 2) => `${(x * 100).toFixed(digits)}%`;
const interval = (ci: number[] | undefined) => (ci && ci.length === 2 ? `[${fmt(ci[0]!)}, ${fmt(ci[1]!)}]` : '-');
const duration = (s: number) =>
  Number.isFinite(s)
    ? s < 120
      ? `${Math.ceil(s)} s`
      : s < 7200
        ? `${fmt(s / 60, 2)} min`
        : `${fmt(s / 3600, 2)} h`
    : 'never (no traffic)';

/** Plain words for what the correlation says. */
function reading(c: Correlation): string {
  const strength =
    Math.abs(c.r) >= 0.7 ? 'strong' : Math.abs(c.r) >= 0.4 ? 'moderate' : Math.abs(c.r) >= 0.2 ? 'weak' : 'no clear';
  const sign = c.r >= 0 ? 'positive' : 'negative';
  const significant = c.pValue < 0.05 && (c.ci[0] > 0 || c.ci[1] < 0);
  return `${strength} ${strength === 'no clear' ? 'link' : `${sign} link`}${significant ? '' : ' (not significant at 0.05)'}`;
}

function designBlocks(data: ReportData): Block[] {
  const { spec } = data.rollout;
  const { analysis, strategy } = spec;
  const [stable, canary] = [spec.stable.version, spec.canary.version];
  const primary = analysis.comparisons.filter((c) => c.role === 'primary');
  const hypothesis = primary.length
    ? primary
        .map((c) => `${canary} has ${c.better} ${c.name} than ${stable}, by at least ${fmt(c.minEffect)}`)
        .join('; and ')
    : `${canary} is no worse than ${stable} on every guard and guardrail`;
  const blocks: Block[] = [
    { kind: 'heading', level: 2, text: 'Design' },
    {
      kind: 'paragraph',
      text: `Hypothesis: ${hypothesis}. The null hypothesis for each comparison is no difference between ${canary} (canary) and ${stable} (stable).`,
    },
    {
      kind: 'list',
      items: [
        `alpha ${analysis.alpha} (family-wise across ${analysis.comparisons.length} comparison${analysis.comparisons.length === 1 ? '' : 's'}${analysis.sequential === 'msprt' ? ', Holm' : ', Bonferroni'}), power ${analysis.power}`,
        `sequential test: ${analysis.sequential === 'msprt' ? 'mSPRT (always-valid p-values: looking at every interval does not inflate alpha)' : `${analysis.sequential} alpha spending over the planned sample size`}`,
        `analysis every ${analysis.interval}; stages ${strategy.steps.map((s) => `${s}%`).join(' → ')}${strategy.mirror ? ` after ${strategy.mirror.duration} of ${strategy.mirror.percent}% mirrored traffic` : ''}; at least ${strategy.minStageDuration} and ${strategy.minSamplesPerStage} requests per stage; at most ${strategy.maxDuration} in all (then ${strategy.onInconclusive})`,
        ...(strategy.approvals.length
          ? [`human approval before ${strategy.approvals.map((w) => `${w}%`).join(', ')} (weir approve)`]
          : []),
      ],
    },
  ];
  const rows: string[][] = analysis.guardrails.map((g) => {
    const bounds = Object.entries({
      min: g.min,
      max: g.max,
      maxRatio: g.maxRatio,
      minRatio: g.minRatio,
      maxIncrease: g.maxIncrease,
      maxDecrease: g.maxDecrease,
    })
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k} ${fmt(v!)}`)
      .join(', ');
    return [
      g.name,
      'guardrail',
      'threshold',
      `${bounds}; ${g.failureLimit} failed check${g.failureLimit === 1 ? '' : 's'} roll back`,
      '-',
      '-',
    ];
  });
  const planned = new Map<string, number>();
  for (const c of analysis.comparisons) {
    let n: number | undefined;
    let basis = 'no closed form for this type';
    const baseline = data.baselines[c.name];
    try {
      if (c.minEffect > 0 && c.type === 'proportion' && baseline?.proportion !== undefined) {
        n = sampleSizeProportion(
          baseline.proportion,
          c.better === 'higher' ? c.minEffect : -c.minEffect,
          analysis.alpha,
          analysis.power,
        ).perArm;
        basis = `stable ${fmt(baseline.proportion)} observed`;
      } else if (c.minEffect > 0 && c.type === 'mean' && baseline?.sd) {
        n = sampleSizeMean(baseline.sd, c.minEffect, analysis.alpha, analysis.power).perArm;
        basis = `sd ${fmt(baseline.sd)} observed`;
      } else if (c.minEffect === 0) basis = 'minEffect 0: any difference counts';
      else if (c.type !== 'histogram') basis = 'no baseline from Prometheus';
    } catch (err) {
      basis = (err as Error).message;
    }
    if (n !== undefined) planned.set(c.name, n);
    rows.push([
      c.name,
      `comparison (${c.role})`,
      c.type,
      `${c.better} is better; minEffect ${fmt(c.minEffect)}`,
      n === undefined ? '-' : String(n),
      basis,
    ]);
  }
  blocks.push({ kind: 'table', header: ['metric', 'role', 'test', 'rule', 'planned n per version', 'basis'], rows });
  const perArm = Math.max(strategy.minSamplesPerStage, ...planned.values());
  const minStage = parseDuration(strategy.minStageDuration) / 1000;
  blocks.push({
    kind: 'table',
    header: [
      'stage',
      'canary weight',
      'min duration',
      'planned samples per version',
      `time to reach them${data.trafficRate ? ` at ${fmt(data.trafficRate)} req/s` : ''}`,
    ],
    rows: stagesOf(spec).map((stage, i) => [
      String(i),
      stage.kind === 'mirror'
        ? `mirror ${stage.mirrorPercent}%`
        : `${stage.weight}%${strategy.approvals.includes(stage.weight) ? ' (approval)' : ''}`,
      stage.kind === 'mirror' ? strategy.mirror!.duration : strategy.minStageDuration,
      String(perArm),
      stage.weight >= 100
        ? 'promotion: no comparison'
        : data.trafficRate && stage.kind !== 'mirror'
          ? duration(Math.max(minStage, samplesEta(perArm, { stable: 0, canary: 0 }, data.trafficRate, stage.weight)))
          : '-',
    ]),
  });
  blocks.push({
    kind: 'paragraph',
    text: 'The planned samples are the larger of minSamplesPerStage and the fixed-test sample size that detects minEffect with the given alpha and power. Sequential tests usually stop earlier when the true effect is larger than minEffect.',
  });
  return blocks;
}

function timelineBlocks(data: ReportData): Block[] {
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

function analysisBlocks(data: ReportData): Block[] {
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
    const bounded = (v: number) => Math.max(-1e6, Math.min(1e6, v));
    const xs = looks.flatMap(({ r }) => [bounded(r.ci![0]!), bounded(r.ci![1]!), r.effect!]);
    const height = 80 + looks.length * 34;
    const xRange = rangeOf(xs, 0.08, [0, c.minEffect, -c.minEffect]);
    const svg = chart(
      {
        id: `effect-${c.name}`,
        title: `${c.name}: canary − stable and its interval at each decision (dashed: ±minEffect)`,
        height,
        x: { ...xRange, label: `${c.name}, canary − stable` },
        y: { min: 0, max: looks.length + 1, label: 'decision', format: () => '' },
      },
      (sx, sy) => {
        const guides = [0, c.minEffect, -c.minEffect]
          .filter((v, i, all) => all.indexOf(v) === i)
          .map(
            (v) =>
              `<line x1="${sx(v)}" x2="${sx(v)}" y1="${sy(0)}" y2="${sy(looks.length + 1)}" stroke="${v === 0 ? '#888' : '#bbb'}" stroke-dasharray="${v === 0 ? '' : '4 3'}"/>`,
          )
          .join('');
        return (
          guides +
          looks
            .map(({ h, r }, i) => {
              const y = sy(looks.length - i);
              return `<line class="data" x1="${sx(bounded(r.ci![0]!))}" x2="${sx(bounded(r.ci![1]!))}" y1="${y}" y2="${y}" stroke="${COLORS.canary}" stroke-width="2"/>${dots([[r.effect!, looks.length - i]], sx, sy, COLORS.canary, [`${h.action} at stage ${h.stage}: ${r.message}`])}<text x="${sx(xRange.min) + 4}" y="${y - 6}">${esc(`${h.action} to ${h.canaryWeight}%: ${r.verdict}`)}</text>`;
            })
            .join('')
        );
      },
    );
    blocks.push({
      kind: 'chart',
      svg,
      alt: `${c.name}: canary − stable and its interval at each decision (dashed lines: ±minEffect)`,
    });
  }
  return blocks;
}

function seriesBlocks(data: ReportData): Block[] {
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

function businessBlocks(data: ReportData): Block[] {
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

function correlationBlocks(data: ReportData): Block[] {
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

export function reportBlocks(data: ReportData): Block[] {
  const { rollout } = data;
  const { spec, status } = rollout;
  const name =
    rollout.metadata.namespace && rollout.metadata.namespace !== 'local'
      ? `${rollout.metadata.namespace}/${rollout.metadata.name}`
      : rollout.metadata.name;
  return [
    { kind: 'heading', level: 1, text: `Experiment report: ${name}` },
    {
      kind: 'paragraph',
      text: `Model ${spec.model}: ${spec.stable.version} (stable) → ${spec.canary.version} (canary). ${status!.startedAt ? `${status!.phase} after ${seconds((data.span.end - data.span.start) * 1000)}, attempt ${status!.attempt}, canary at ${status!.canaryWeight}%` : `${status!.phase}: not started yet`}. Generated ${data.generatedAt} by weir report.`,
    },
    ...designBlocks(data),
    ...timelineBlocks(data),
    ...analysisBlocks(data),
    ...businessBlocks(data),
    ...seriesBlocks(data),
    ...correlationBlocks(data),
    ...(data.notes.length
      ? [
          { kind: 'heading', level: 2, text: 'Not in this report' } as Block,
          { kind: 'list', items: data.notes } as Block,
        ]
      : []),
  ];
}

const mdCell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function renderMarkdown(data: ReportData): string {
  return `${reportBlocks(data)
    .map((b) => {
      switch (b.kind) {
        case 'heading':
          return `${'#'.repeat(b.level)} ${b.text}`;
        case 'paragraph':
          return b.text;
        case 'list':
          return b.items.map((i) => `- ${i}`).join('\n');
        case 'table':
          return [b.header, b.header.map(() => '---'), ...b.rows]
            .map((r) => `| ${r.map(mdCell).join(' | ')} |`)
            .join('\n');
        case 'chart':
          // An image in a data URI: the Markdown file stays self-contained.
          return `![${b.alt}](data:image/svg+xml;base64,${Buffer.from(b.svg).toString('base64')})`;
      }
    })
    .join('\n\n')}\n`;
}

const STYLE = `body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
table{border-collapse:collapse;margin:1em 0;font-size:13px}th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}h1{font-size:1.6em}h2{border-bottom:1px solid #d0d7de;padding-bottom:.2em;margin-top:2em}svg.chart{display:block;max-width:100%;height:auto}figure{margin:1em 0}figcaption{font-size:13px;color:#555}`;

export function renderHtml(data: ReportData): string {
  const blocks = reportBlocks(data);
  const title = blocks[0]!.kind === 'heading' ? blocks[0]!.text : 'weir report';
  const body = blocks
    .map((b) => {
      switch (b.kind) {
        case 'heading':
          return `<h${b.level}>${esc(b.text)}</h${b.level}>`;
        case 'paragraph':
          return `<p>${esc(b.text)}</p>`;
        case 'list':
          return `<ul>${b.items.map((i) => `<li>${esc(i)}</li>`).join('')}</ul>`;
        case 'table':
          return `<table><thead><tr>${b.header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${b.rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
        case 'chart':
          return `<figure>${b.svg}<figcaption>${esc(b.alt)}</figcaption></figure>`;
      }
    })
    .join('\n');
  // The CSP forbids every outside fetch and any script: the file is the whole report.
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"><title>${esc(title)}</title><style>${STYLE}</style></head><body>\n${body}\n</body></html>\n`;
}
