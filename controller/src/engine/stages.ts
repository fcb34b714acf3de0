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
}

/** The stages of a rollout: the optional mirror stage, then one per step, each with its weight and minimum duration. */
export function stagesOf(spec: ModelRolloutSpec): Stage[] {
  const stages: Stage[] = [];
  const { mirror, steps, minStageDuration } = spec.strategy;
  if (mirror)
    stages.push({
      index: 0,
      kind: 'mirror',
      weight: 0,
      mirrorPercent: mirror.percent,
      minDurationMs: parseDuration(mirror.duration),
    });
  for (const weight of steps)
    stages.push({
      index: stages.length,
      kind: 'canary',
      weight,
      mirrorPercent: 0,
      minDurationMs: parseDuration(minStageDuration),
    });
  return stages;
}
