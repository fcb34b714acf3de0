// What this controller decided but could not write to status yet, per rollout,
// kept in memory until status records it. Two things must not be lost while
// status writes fail (a read-only folder, an API server answering 5xx, 403 or
// 409 on status):
// - a rollback: it is applied again every round, whatever the route's own
//   record says (a hand edit or a whole-table PUT may have removed it), and
//   whatever newer metrics say;
// - the analysis state of the stage (consecutive guardrail failures, the
//   sequential tests' state), so a guardrail with failureLimit 3 still trips
//   after three failed checks although none of them could be recorded.
// A restart loses this memory; the route's step record then carries the rollback.
import { isFinished, type RolloutStatus } from '../api/schema.js';
import type { AppliedStep } from '../engine/types.js';

interface Unwritten {
  attempt: number;
  stage: number;
  stageStartedAt: string | undefined;
  rollback?: AppliedStep;
  guardrailFailures: RolloutStatus['guardrailFailures'];
  sequential: RolloutStatus['sequential'];
}

/** Decisions status has not recorded yet, per rollout (see the module comment). */
export class UnwrittenDecisions {
  private readonly byRollout = new Map<string, Unwritten>();

  /**
   * The status to decide from, and the rollback to complete: the stored status with
   * the analysis state this controller computed but could not write, when the stored
   * one is still at the same attempt and stage. Anything stale is forgotten.
   */
  apply(key: string, stored: RolloutStatus): { status: RolloutStatus; rollback?: AppliedStep } {
    const memory = this.byRollout.get(key);
    if (!memory) return { status: stored };
    if (isFinished(stored.phase) || memory.attempt !== stored.attempt) {
      this.byRollout.delete(key);
      return { status: stored };
    }
    const sameStage = memory.stage === stored.stage && memory.stageStartedAt === stored.stageStartedAt;
    const status = sameStage
      ? { ...stored, guardrailFailures: memory.guardrailFailures, sequential: memory.sequential }
      : stored;
    return { status, ...(memory.rollback ? { rollback: memory.rollback } : {}) };
  }

  /** The decision's status could not be written: keep its analysis state, and the rollback if it is one. */
  remember(key: string, decided: RolloutStatus, step: AppliedStep, previous: RolloutStatus): void {
    const rollback = step.action === 'rollback' ? step : this.byRollout.get(key)?.rollback;
    // The analysis state belongs to the stage the stored status is in: that is the one the next round reads.
    this.byRollout.set(key, {
      attempt: previous.attempt,
      stage: previous.stage,
      stageStartedAt: previous.stageStartedAt,
      ...(rollback ? { rollback } : {}),
      guardrailFailures: decided.stage === previous.stage ? decided.guardrailFailures : previous.guardrailFailures,
      sequential: decided.stage === previous.stage ? decided.sequential : previous.sequential,
    });
  }

  /** Status recorded the decision: nothing to keep. */
  forget(key: string): void {
    this.byRollout.delete(key);
  }

  has(key: string): boolean {
    return this.byRollout.has(key);
  }
}
