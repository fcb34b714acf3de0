// The engine's vocabulary: commands in, decisions out. Verdicts are data.
import type { Reason, RolloutStatus } from '../api/schema.js';

export type Action = 'advance' | 'hold' | 'rollback' | 'await-approval' | 'promote' | 'pause';

/** A person's instruction, recorded with who gave it and when; consumed once. */
export type Command = RolloutStatus['commands'][number];
export type CommandType = Command['type'];

/**
 * The step whose weights a router last applied, as the router keeps it next to
 * the weights (a VirtualService annotation, the gateway's route). A rollback
 * is applied to the route before status is written, so when that status write
 * fails this is the only durable record of the decision: the engine completes
 * it from here instead of deciding again.
 */
export interface AppliedStep {
  attempt: number;
  /** When the attempt started: with `attempt`, it tells this attempt from one of a deleted rollout of the same name. */
  startedAt?: string;
  /** Which rollout wrote it (namespace/name), set by the router: a route may have carried another rollout before. */
  rollout?: string;
  stepId: string;
  action: Action;
  /** When the step was decided (RFC 3339). */
  at: string;
  by?: string;
  summary: string;
  /** Commands this step consumed (such as the abort that caused it). */
  consumed: string[];
}

export interface Decision {
  action: Action;
  /** Stage index after this decision (-1 before the start). */
  stage: number;
  canaryWeight: number;
  mirrorPercent: number;
  /** The baseline's share, when the spec has a baseline. */
  baselineWeight?: number;
  /** Identifies the step this decision applies; a replay with the same id must not apply it twice. */
  stepId: string;
  reasons: Reason[];
  /** The status to write (before or together with the weights). */
  statusPatch: RolloutStatus;
  /** The record of this step the router keeps with the weights. */
  applied: AppliedStep;
}
