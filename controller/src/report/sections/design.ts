// The report's design section: hypothesis, metrics, alpha and power, and the planned samples and time per stage.
import { parseDuration } from '../../../../shared/duration.js';

import { candidateVersions } from '../../api/schema.js';
import { stagesOf, warmupMs } from '../../engine/stages.js';
import { EVIDENCE_MINIMUMS, EVIDENCE_WHAT, specMargin } from '../../engine/comparisons.js';

import { sampleSizeMean, sampleSizeProportion, samplesEta } from '../../stats/sample-size.js';
import { type ReportData } from '../collect.js';
import { fmt } from '../svg.js';
import { duration, seconds, type Block } from '../blocks.js';

/** The experiment's design: hypothesis, metrics, alpha and power, and the sample-size plan per stage. */
export function designBlocks(data: ReportData): Block[] {
  const { spec } = data.rollout;
  const { analysis, strategy } = spec;
  const [stable, canary] = [spec.stable.version, spec.canary.version];
  const primary = analysis.comparisons.filter((c) => c.role === 'primary');
  const { experiment } = strategy;
  const candidates = candidateVersions(spec);
  const family = analysis.comparisons.length * (experiment ? candidates.length : 1);
  const hypothesis = experiment
    ? experiment.type === 'abn'
      ? `one of ${candidates.join(', ')} has ${primary.map((c) => `${c.better} ${c.name}`).join(' and ')} than the control ${stable}, by at least ${primary.map((c) => fmt(c.minEffect)).join(' and ')}, and is not worse than another candidate`
      : `the version with the highest ${experiment.reward} among ${[stable, ...candidates].join(', ')} is found while as little traffic as possible goes to worse ones`
    : primary.length
      ? primary
          .map((c) => `${canary} has ${c.better} ${c.name} than ${stable}, by at least ${fmt(c.minEffect)}`)
          .join('; and ')
      : `${canary} is no worse than ${stable} on every guard and guardrail`;
  const blocks: Block[] = [
    { kind: 'heading', level: 2, text: 'Design' },
    {
      kind: 'paragraph',
      text: `Hypothesis: ${hypothesis}. The null hypothesis for each comparison is no difference between ${experiment ? `a candidate and the control ${stable}` : `${canary} (canary) and ${stable} (stable)`}.`,
    },
    {
      kind: 'list',
      items: [
        `alpha ${analysis.alpha} (family-wise across ${family} comparison${family === 1 ? '' : 's'}${experiment ? ` (${candidates.length} candidates × ${analysis.comparisons.length})` : ''}${analysis.sequential === 'msprt' ? ', Holm' : ', Bonferroni'}), power ${analysis.power}`,
        `sequential test: ${analysis.sequential === 'msprt' ? 'mSPRT (always-valid p-values: looking at every interval does not inflate alpha)' : `${analysis.sequential} alpha spending over the planned sample size`}`,
        experiment
          ? `analysis every ${analysis.interval}; ${experiment.type === 'abn' ? 'a fixed split' : `a split re-computed each interval by ${experiment.algorithm}`} over ${[stable, ...candidates].join(', ')} for at least ${strategy.minStageDuration}, then the winner gets 100%; at most ${strategy.maxDuration} in all (then ${strategy.onInconclusive})`
          : `analysis every ${analysis.interval}; stages ${strategy.steps.map((s) => `${s}%`).join(' → ')}${strategy.mirror ? ` after ${strategy.mirror.duration} of ${strategy.mirror.percent}% mirrored traffic` : ''}; at least ${strategy.minStageDuration} and ${strategy.minSamplesPerStage} requests per stage; at most ${strategy.maxDuration} in all (then ${strategy.onInconclusive})`,
        ...(strategy.approvals.length
          ? [`human approval before ${strategy.approvals.map((w) => `${w}%`).join(', ')} (weir approve)`]
          : []),
        `warm-up ${seconds(warmupMs(spec))} at the start of each stage: left out of comparisons and relative guardrails (absolute guardrail bounds act at once)`,
        spec.baseline
          ? `judged against baseline ${spec.baseline.version}: predictors of ${stable}'s model started with the canary and given its share, not the long-running ${stable}`
          : `judged against ${stable} as it runs (no baseline)`,
        experiment?.type === 'abn'
          ? 'winner: a candidate significantly better than the control on every primary comparison, worse on none, and not significantly worse than another candidate; a candidate that trips a guardrail or is found harmful is taken out'
          : experiment
            ? `winner: the version whose P(best) holds ${experiment.stopProbability} for ${experiment.sustain}; every version keeps ${experiment.floor}% until then; a candidate that trips a guardrail or is found harmful is taken out`
            : "stage gate: a stage ends only once every comparison's always-valid interval shows the canary not worse than its margin, and each comparison has the evidence its test needs",
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
      `${c.better} is better; minEffect ${fmt(c.minEffect)}; gate margin ${specMargin(c) === undefined ? 'the type scale' : fmt(specMargin(c)!)}; acts from ${EVIDENCE_MINIMUMS[c.type]} ${EVIDENCE_WHAT[c.type]}`,
      n === undefined ? '-' : String(n),
      basis,
    ]);
  }
  blocks.push({ kind: 'table', header: ['metric', 'role', 'test', 'rule', 'planned n per version', 'basis'], rows });
  // An experiment has one split stage; its plan is the table above.
  if (experiment) return blocks;
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
