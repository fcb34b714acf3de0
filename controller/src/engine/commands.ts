// Which commands a rollout accepts in which phase: the one rule the engine,
// the stores (when a command is given) and the CLI all apply. A finished
// rollout takes no command but `weir retry`, so nothing a person, a queued
// command or a webhook sends can give a rolled-back canary traffic again.
import { isFinished, type Phase } from '../api/schema.js';
import type { CommandType } from './types.js';

/** Why a command cannot apply to a rollout in `phase`; undefined when it can. */
export function commandRefusal(phase: Phase, type: CommandType): string | undefined {
  if (type === 'retry') {
    if (phase === 'RolledBack' || phase === 'Failed') return undefined;
    return phase === 'Promoted'
      ? 'the rollout is Promoted: its canary is the new stable, so there is nothing to retry'
      : `the rollout is ${phase}, not rolled back: retry starts a rolled-back or failed rollout again`;
  }
  if (isFinished(phase))
    return `the rollout is ${phase}: a finished rollout takes no ${type}; only weir retry starts a new attempt after a rollback`;
  if (type === 'approve' && phase !== 'AwaitingApproval')
    return `the rollout is ${phase}: nothing awaits approval${phase === 'Paused' ? ' (resume it first)' : ''}`;
  if (type === 'resume' && phase !== 'Paused') return `the rollout is ${phase}, not Paused: there is nothing to resume`;
  if (type === 'pause' && phase === 'Paused') return 'the rollout is already Paused';
  return undefined;
}

/** How many refused commands status keeps (newest last), so a flood of them cannot grow it without bound. */
export const REFUSALS_KEPT = 20;
