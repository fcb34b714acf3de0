// Following a demo rollout to its end: the live view after every change, and
// the approval gate approved through the same command path as `weir approve`.
import { sleep } from '../../../../shared/wait.js';
import type { ScenarioName, ScenarioOptions } from './scenario.js';
import { ROLLOUT, type DemoStack } from './stack.js';

/** Polls the rollout until it is promoted, rolled back or paused (or the timeout or signal ends it); returns where it ended. */
export async function watchRollout(
  stack: DemoStack,
  scenario: ScenarioName,
  started: number,
  options: ScenarioOptions,
): Promise<{ phase: string; message: string }> {
  const { store, load } = stack;
  const deadline = started + (options.timeoutMs ?? 7 * 60_000);
  let phase = 'Pending';
  let message = '';
  let approvedBy: string | undefined;
  let seen = '';
  while (Date.now() < deadline && !options.signal?.aborted) {
    await sleep(500);
    const status = (await store.get(ROLLOUT)).rollout.status!;
    const unroutable = status.conditions.find((c) => c.type === 'TrafficRouted' && c.status === 'False');
    if (unroutable) throw new Error(`the local gateway cannot route ${ROLLOUT}: ${unroutable.message}`);
    phase = status.phase;
    message = status.message ?? '';
    if (phase === 'AwaitingApproval' && !approvedBy) {
      // The same code path as `weir approve`: a command recorded with who gave it.
      approvedBy = 'weir-demo (automatic approval)';
      await store.addCommand(ROLLOUT, { type: 'approve', by: approvedBy, at: new Date().toISOString() });
    }
    const view = `${status.lastStepId}|${message}|${load.stats.sent}|${JSON.stringify(status.weights ?? {})}`;
    if (view !== seen)
      options.onView?.({
        scenario,
        elapsedSeconds: (Date.now() - started) / 1000,
        phase,
        stage: status.stage,
        canaryWeight: status.canaryWeight,
        ...(status.baselineWeight !== undefined ? { baselineWeight: status.baselineWeight } : {}),
        ...(status.weights ? { weights: status.weights } : {}),
        reasons: status.analysis,
        message,
        sent: load.stats.sent,
        failed: load.stats.failed,
        ...(approvedBy ? { approvedBy } : {}),
      });
    seen = view;
    // Paused waits for a person (weir resume or abort), and nobody in the demo gives one.
    if (phase === 'Promoted' || phase === 'RolledBack' || phase === 'Paused') break;
  }
  return { phase, message };
}
