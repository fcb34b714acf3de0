// The engine's vocabulary: commands in, decisions out. Verdicts are data.
import type { Reason, RolloutStatus } from '../api/schema.js';

export type Action = 'advance' | 'hold' | 'rollback' | 'await-approval' | 'promote' | 'pause';

/** A person's instruction, recorded with who gave it and when; consumed once. */
export type Command = RolloutStatus['commands'][number];
export type CommandType = Command['type'];

export interface Decision {
  action: Action;
  /** Stage index after this decision (-1 before the start). */
  stage: number;
  canaryWeight: number;
  mirrorPercent: number;
  /** Identifies the step this decision applies; a replay with the same id must not apply it twice. */
  stepId: string;
  reasons: Reason[];
  /** The status to write (before or together with the weights). */
  statusPatch: RolloutStatus;
}
