// The stages of a rollout: an optional mirror (shadow) stage, then the steps.
import type { ModelRolloutSpec } from '../api/schema.js';
import { parseDuration } from '../../../shared/duration.js';

export interface Stage {
  index: number;
  kind: 'mirror' | 'canary';
  weight: number;
  mirrorPercent: number;
  /** How long the stage runs at least, in ms. */
  minDurationMs: number;
  /** The first part of the stage, in ms, left out of comparisons and relative guardrails. */
  warmupMs: number;
}

/** Longest default warm-up: a minute covers JIT compilation, caches and connection pools. */
const DEFAULT_WARMUP_CAP_MS = 60_000;

/** analysis.warmup, or by default half of minStageDuration, at most a minute. */
export function warmupMs(spec: ModelRolloutSpec): number {
  const { warmup } = spec.analysis;
  if (warmup !== undefined) return parseDuration(warmup);
  return Math.min(DEFAULT_WARMUP_CAP_MS, parseDuration(spec.strategy.minStageDuration) / 2);
}

/**
 * Where a stage stands against its warm-up, `stageMs` into it: whether it still
 * warms up, and how much of it is judged (the whole stage so far while it warms
 * up, the part after the warm-up once it is over). The reconciler's query window,
 * the engine and the simulation all read it here.
 */
export function warmupState(warmupMs: number, stageMs: number): { warming: boolean; judgedMs: number } {
  const warming = stageMs < warmupMs;
  return { warming, judgedMs: warming ? stageMs : stageMs - warmupMs };
}

/** The stages of a rollout: the optional mirror stage, then one per step, each with its weight and minimum duration. */
export function stagesOf(spec: ModelRolloutSpec): Stage[] {
  const stages: Stage[] = [];
  const { mirror, steps, minStageDuration, scaleDownDelay } = spec.strategy;
  const warmup = warmupMs(spec);
  // An experiment has one split stage (its weights live in status), then the winner's 100%.
  if (spec.strategy.experiment)
    return [0, 100].map((weight, index) => ({
      index,
      kind: 'canary',
      weight,
      mirrorPercent: 0,
      minDurationMs: parseDuration(minStageDuration),
      warmupMs: warmup,
    }));
  if (mirror)
    stages.push({
      index: 0,
      kind: 'mirror',
      weight: 0,
      mirrorPercent: mirror.percent,
      minDurationMs: parseDuration(mirror.duration),
      warmupMs: warmup,
    });
  for (const weight of steps)
    stages.push({
      index: stages.length,
      kind: 'canary',
      weight,
      mirrorPercent: 0,
      // The 100% stage lasts scaleDownDelay when set: the blue-green window for an instant switch back.
      minDurationMs: parseDuration(weight === 100 && scaleDownDelay ? scaleDownDelay : minStageDuration),
      warmupMs: warmup,
    });
  return stages;
}
