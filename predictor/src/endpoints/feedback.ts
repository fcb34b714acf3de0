// POST /v2/models/{name}[/versions/{v}]/feedback: ground truth for earlier
// predictions, all or nothing (see feedback.ts).
import { RequestError } from '../../../shared/errors.js';
import { parseJsonBody, readBody, type Exchange, type Reply } from '../../../shared/http.js';
import { REJECTION_STATUS, decodeFeedback, type ScoredRow } from '../feedback.js';
import type { PredictorState } from '../state.js';
import { checkModelName } from './models.js';

/** POST …/feedback: counts the labels, or nothing when any item is rejected. */
export async function feedback(state: PredictorState, { req, params }: Exchange): Promise<Reply> {
  checkModelName(state, params.model!);
  const servingVersion = state.repository.serving?.version ?? 'none';
  const hint = params.version;
  let items;
  try {
    items = decodeFeedback(parseJsonBody((await readBody(req, state.config.maxBodyBytes)).toString('utf8')), [0, 1], {
      maxAbsValue: state.config.maxFeedbackValue,
      maxItems: 10_000,
    });
  } catch (err) {
    if (err instanceof RequestError && err.status === 400) state.metrics.rejected(servingVersion, 'invalid');
    throw err;
  }
  const now = Date.now();
  // All or nothing: every item is joined with its prediction before any counter moves or any
  // prediction is used up. One item that cannot be scored (unknown, expired, rows that do not
  // match) rejects the request whole; the client drops or fixes the listed items and sends again.
  const rejected = items.flatMap((item, index) => {
    const problem = state.store.check(item, now);
    return problem ? [{ index, id: item.id, reason: problem.rejection, error: problem.message }] : [];
  });
  if (rejected.length > 0) {
    for (const r of rejected) state.metrics.rejected(servingVersion, r.reason);
    const first = rejected[0]!;
    const more = rejected.length > 1 ? ` (and ${rejected.length - 1} more)` : '';
    const error = `${items.length > 1 ? `[${first.index}]: ` : ''}${first.error}${more}; nothing in this request was counted`;
    return { status: REJECTION_STATUS[first.reason], body: { accepted: 0, rejected, error } };
  }
  for (const item of items) {
    const scored = state.store.score(item, now) as ScoredRow[];
    if (hint !== undefined && scored[0] && scored[0].version !== hint) {
      // Labels are still counted for the version that predicted; the URL was only a hint.
      state.log.debug('feedback URL names another version than the prediction', {
        url: hint,
        predictedBy: scored[0].version,
      });
    }
    for (const row of scored) state.metrics.labelled(row.version, row.correct, row.brier, row.value);
  }
  return { status: 200, body: { accepted: items.length, rejected: [] } };
}
