// What the dashboard shows, as plain data: one row per rollout for the list
// page, and one rollout's page (its stages, weights over time, the latest
// decision's verdicts and its history). Every chart is the report's own SVG
// (report/sections), drawn on the server and shown as an image, so no markup
// from data ever reaches the page's document.
import { candidateVersions, isFinished, type ModelRollout, type Reason, type RolloutStatus } from '../api/schema.js';
import { stagesOf } from '../engine/stages.js';
import type { InvalidRollout, StoredRollout } from '../providers/types.js';
import { spanOf, type ReportData } from '../report/collect.js';
import { analysisBlocks } from '../report/sections/analysis.js';
import { experimentBlocks, weightsChart } from '../report/sections/experiment.js';

export interface ListRow {
  key: string;
  name: string;
  namespace: string | null;
  model: string | null;
  phase: string;
  /** "10%", "mirror 100%", "2 of 4" as people read it; null when invalid. */
  stage: string | null;
  /** Each routed version's weight, control first. */
  weights: Record<string, number>;
  /** Seconds since the current stage began; null when finished or unknown. */
  secondsInStage: number | null;
  /** One line: what it waits for, why it ended, or why it is invalid. */
  waitingFor: string;
  invalid: boolean;
}

/** Each version's share of the route now: an experiment's split, or stable / baseline / canary. */
export function weightsOf(rollout: ModelRollout): Record<string, number> {
  const s = rollout.status!;
  if (s.weights) return { ...s.weights };
  const baseline = rollout.spec.baseline && s.baselineWeight ? s.baselineWeight : 0;
  return {
    [rollout.spec.stable.version]: 100 - s.canaryWeight - baseline,
    ...(rollout.spec.baseline ? { [rollout.spec.baseline.version]: baseline } : {}),
    [rollout.spec.canary.version]: s.canaryWeight,
  };
}

/** Where a rollout is, as people read it: its stage's weight and place among the stages. */
function stageText(rollout: ModelRollout): string {
  const s = rollout.status!;
  const stages = stagesOf(rollout.spec);
  const stage = stages[s.stage];
  if (!stage || s.phase === 'Pending') return 'not started';
  const what = stage.kind === 'mirror' ? `mirror ${stage.mirrorPercent}%` : `${stage.weight}%`;
  return `${what} (stage ${s.stage + 1} of ${stages.length})`;
}

/** The list page's row for a usable rollout. */
export function listRow(stored: StoredRollout, now = Date.now()): ListRow {
  const { rollout } = stored;
  const s = rollout.status!;
  const finished = isFinished(s.phase);
  return {
    key: stored.key,
    name: rollout.metadata.name,
    namespace: rollout.metadata.namespace ?? null,
    model: rollout.spec.model,
    phase: s.phase,
    stage: stageText(rollout),
    weights: weightsOf(rollout),
    secondsInStage:
      finished || !s.stageStartedAt ? null : Math.max(0, Math.floor((now - Date.parse(s.stageStartedAt)) / 1000)),
    waitingFor: s.message || (finished ? s.phase : 'waiting for the controller'),
    invalid: false,
  };
}

/** The list page's row for a rollout the store cannot use: listed, with why. */
export function invalidRow(invalid: InvalidRollout): ListRow {
  return {
    key: invalid.key,
    name: invalid.metadata?.name ?? invalid.key,
    namespace: invalid.metadata?.namespace ?? null,
    model: null,
    phase: 'Invalid',
    stage: null,
    weights: {},
    secondsInStage: null,
    waitingFor: invalid.reason,
    invalid: true,
  };
}

export interface RolloutPage {
  row: ListRow;
  stable: string;
  candidates: string[];
  /** Every stage with its weight, and whether it is past, current or to come. */
  stages: { label: string; state: 'done' | 'current' | 'next' }[];
  /** The latest decision's guardrails and comparisons. */
  verdicts: Reason[];
  /** Sample ratio and bandit state, when the rollout has them. */
  sampleRatio: Reason | null;
  arms: NonNullable<RolloutStatus['experiment']>['arms'];
  winner: string | null;
  history: {
    at: string;
    action: string;
    weights: Record<string, number> | null;
    canaryWeight: number;
    by: string | null;
    summary: string;
  }[];
  approvals: { stage: number; by: string; at: string }[];
  pendingCommands: { type: string; by: string; at: string }[];
  refusedCommands: { type: string; by: string; at: string; reason: string }[];
  /** The report's charts (SVG documents), by id, in the order the page shows them. */
  charts: { id: string; alt: string }[];
}

/** The report's data as far as the status alone gives it: enough for its status-drawn charts. */
function statusOnlyReport(rollout: ModelRollout, now: number): ReportData {
  return {
    rollout,
    generatedAt: new Date(now).toISOString(),
    span: spanOf(rollout, now),
    windowSeconds: 0,
    modelMetrics: [],
    windows: [],
    totals: [],
    baselines: {},
    notes: [],
  };
}

/** The report's charts for this rollout, each an SVG document by id: weights over time, the forest charts, the bandit's P(best). */
export function chartsOf(rollout: ModelRollout, now = Date.now()): Map<string, { svg: string; alt: string }> {
  const data = statusOnlyReport(rollout, now);
  const charts = new Map<string, { svg: string; alt: string }>();
  const weights = weightsChart(data);
  if (weights) charts.set('weights', weights);
  for (const block of [...experimentBlocks(data), ...analysisBlocks(data)]) {
    if (block.kind !== 'chart') continue;
    const id = /data-chart="([^"]+)"/.exec(block.svg)?.[1];
    // The experiment's own weights chart is the one drawn above.
    if (id && id !== 'experiment-weights') charts.set(id, { svg: block.svg, alt: block.alt });
  }
  return charts;
}

/** One rollout's page. */
export function rolloutPage(stored: StoredRollout, now = Date.now()): RolloutPage {
  const { rollout, commands } = stored;
  const s = rollout.status!;
  const stages = stagesOf(rollout.spec);
  const finished = isFinished(s.phase);
  const charts = [...chartsOf(rollout, now)].map(([id, c]) => ({ id, alt: c.alt }));
  return {
    row: listRow(stored, now),
    stable: rollout.spec.stable.version,
    candidates: candidateVersions(rollout.spec),
    stages: stages.map((stage, i) => ({
      label: stage.kind === 'mirror' ? `mirror ${stage.mirrorPercent}%` : `${stage.weight}%`,
      state:
        i < s.stage || (finished && s.phase === 'Promoted') ? 'done' : i === s.stage && !finished ? 'current' : 'next',
    })),
    verdicts: s.analysis.filter((r) => r.kind === 'guardrail' || r.kind === 'comparison'),
    sampleRatio: s.analysis.find((r) => r.kind === 'sample-ratio') ?? null,
    arms: s.experiment?.arms ?? [],
    winner: s.experiment?.winner ?? null,
    history: s.history.map((h) => ({
      at: h.at,
      action: h.action,
      weights: h.weights ?? null,
      canaryWeight: h.canaryWeight,
      by: h.by ?? null,
      summary: h.summary,
    })),
    approvals: s.approvals.map((a) => ({ stage: a.stage, by: a.by, at: a.at })),
    pendingCommands: commands.map((c) => ({ type: c.type, by: c.by, at: c.at })),
    refusedCommands: s.refusedCommands.map((r) => ({ type: r.type, by: r.by, at: r.at, reason: r.reason })),
    charts,
  };
}
