// POST /v2/models/{name}[/versions/{v}]/feedback: ground truth for earlier
// predictions, accepted by any replica of any version. Each item is joined
// with every version's prediction of that request (stable, canary, a shadow)
// from the prediction log, and each (id, version) is counted exactly once
// across replicas, retries and mirrored copies: the claim is atomic in the log.
//
// A request is all or nothing: every item is checked (known, not expired, row
// counts) before anything is claimed or counted, so a bad item changes nothing
// and the corrected request works. An item whose predictions were all scored
// before is a duplicate: 200, counted as such, not again.
import type http from 'node:http';
import { RequestError } from '../../../shared/errors.js';
import { TIMED_OUT, withTimeout } from '../../../shared/wait.js';
import { parseJsonBody, readBody, requireBearer, type Exchange, type Reply } from '../../../shared/http.js';
import {
  checkItem,
  decodeFeedback,
  isLive,
  pairOutcome,
  REJECTION_STATUS,
  scoreRows,
  type FeedbackItem,
  type ScoredRow,
} from '../feedback.js';
import { claimKey, pairClaimKey, PredictionLogUnavailable, type LoggedPrediction } from '../prediction-log/log.js';
import type { PredictorState } from '../state.js';
import type { ModelTask } from '../task.js';
import { checkModelName } from './models.js';

/**
 * weir's local gateway marks a mirrored copy with x-weir-mirrored. Envoy's mirror (a "-shadow"
 * host) is not guessed from the host name, which a real Service may also end with: there the
 * atomic claims make the copy harmless (it counts nothing the primary's replica counts).
 */
export function isMirroredCopy(headers: http.IncomingHttpHeaders): boolean {
  return headers['x-weir-mirrored'] === 'true';
}

/** How long a request waits for its claims before it answers 503 (the claims still count when they land). */
const CLAIM_WAIT_MS = 2000;

/** Seconds a client waits before retrying while the prediction log is unreachable. */
const RETRY_AFTER_S = 2;

/** POST …/feedback: counts the labels, or nothing when any item is rejected. */
export async function feedback(state: PredictorState, { req, params }: Exchange): Promise<Reply> {
  checkModelName(state, params.model!);
  if (state.config.feedbackToken) requireBearer(req, state.config.feedbackToken, 'feedback');
  const serving = state.repository.serving;
  if (!serving)
    throw new RequestError(503, `model "${state.config.model}" is not loaded yet; retry`, { 'retry-after': '1' });
  const servingVersion = serving.version;
  if (isMirroredCopy(req.headers)) {
    // The mesh copied a label meant for the primary to this shadow. The primary's replica scores every
    // version's prediction of that request, this one included; the claim would refuse a second count anyway.
    await readBody(req, state.config.maxBodyBytes);
    return { status: 200, body: { accepted: 0, duplicates: 0, counted: {}, mirrored: true, rejected: [] } };
  }
  let items: FeedbackItem[];
  try {
    items = decodeFeedback(
      parseJsonBody((await readBody(req, state.config.maxBodyBytes)).toString('utf8')),
      serving.task,
      { maxAbsValue: state.config.maxFeedbackValue, maxItems: 10_000 },
    );
  } catch (err) {
    if (err instanceof RequestError && err.status === 400) state.metrics.rejected(servingVersion, 'invalid');
    throw err;
  }
  try {
    return await score(state, serving.task, servingVersion, items);
  } catch (err) {
    if (!(err instanceof PredictionLogUnavailable)) throw err;
    state.metrics.rejected(servingVersion, 'unavailable');
    throw new RequestError(REJECTION_STATUS.unavailable, `${err.message}; nothing in this request was counted, retry`, {
      'retry-after': String(RETRY_AFTER_S),
    });
  }
}

interface Joined {
  item: FeedbackItem;
  predictions: LoggedPrediction[];
  pairs: [LoggedPrediction, LoggedPrediction][];
}

/** Counts every granted claim: each version's rows once, and each pair's rows once (in both orientations). */
function countGranted(state: PredictorState, task: ModelTask, joined: Joined[], granted: boolean[]) {
  let next = 0;
  let duplicates = 0;
  const counted: Record<string, number> = {};
  for (const { item, predictions, pairs } of joined) {
    const rows = new Map<string, ScoredRow[]>();
    const scored = (p: LoggedPrediction) => {
      let r = rows.get(p.version);
      if (!r) rows.set(p.version, (r = scoreRows(task, p, item)));
      return r;
    };
    let fresh = false;
    for (const prediction of predictions) {
      if (!granted[next++]) {
        state.metrics.duplicate(prediction.version);
        continue;
      }
      fresh = true;
      counted[prediction.version] = (counted[prediction.version] ?? 0) + 1;
      for (const row of scored(prediction)) {
        if (task.type === 'classification') state.metrics.classified(prediction.version, row.predicted, row.actual);
        else state.metrics.regressed(prediction.version, row.predicted, row.actual);
        state.metrics.labelled(
          prediction.version,
          row.correct,
          task.type === 'classification' ? row.loss : undefined,
          row.value,
        );
      }
    }
    for (const [a, b] of pairs) {
      if (!granted[next++]) continue;
      const rowsA = scored(a);
      const rowsB = scored(b);
      rowsA.forEach((ra, i) => {
        const rb = rowsB[i]!;
        const losses = ra.loss !== undefined && rb.loss !== undefined;
        state.metrics.pairedRow(a.version, b.version, pairOutcome(ra, rb), losses ? [ra.loss!, rb.loss!] : undefined);
        state.metrics.pairedRow(b.version, a.version, pairOutcome(rb, ra), losses ? [rb.loss!, ra.loss!] : undefined);
      });
    }
    if (!fresh) duplicates++;
  }
  return { duplicates, counted };
}

async function score(state: PredictorState, task: ModelTask, servingVersion: string, items: FeedbackItem[]) {
  const ttlMs = state.config.feedbackTtlMs;
  const logged = await state.predictions.lookup(items.map((i) => i.id));
  const now = Date.now();
  const rejected = items.flatMap((item, index) => {
    const problem = checkItem(item, logged.get(item.id)?.predictions, ttlMs, now);
    return problem ? [{ index, id: item.id, reason: problem.rejection, error: problem.message }] : [];
  });
  if (rejected.length > 0) {
    for (const r of rejected) state.metrics.rejected(servingVersion, r.reason);
    const first = rejected[0]!;
    const more = rejected.length > 1 ? ` (and ${rejected.length - 1} more)` : '';
    const error = `${items.length > 1 ? `[${first.index}]: ` : ''}${first.error}${more}; nothing in this request was counted`;
    return { status: REJECTION_STATUS[first.reason], body: { accepted: 0, rejected, error } };
  }

  // Every live prediction of each item, and every pair of them, is claimed in one atomic step.
  const joined: Joined[] = items.map((item) => {
    const predictions = logged.get(item.id)!.predictions.filter((p) => isLive(p, ttlMs, now));
    const pairs: [LoggedPrediction, LoggedPrediction][] = [];
    for (let a = 0; a < predictions.length; a++)
      for (let b = a + 1; b < predictions.length; b++) pairs.push([predictions[a]!, predictions[b]!]);
    return { item, predictions, pairs };
  });
  const claims = joined.flatMap(({ item, predictions, pairs }) => [
    ...predictions.map((p) => ({ id: item.id, key: claimKey(p.version) })),
    ...pairs.map(([a, b]) => ({ id: item.id, key: pairClaimKey(a.version, b.version) })),
  ]);
  // The counts follow the claims whenever they are granted, even after this request gave up waiting
  // and answered 503: a claim taken is always counted, so the client's retry (a duplicate) loses nothing.
  const counting = state.predictions.claim(claims).then((granted) => countGranted(state, task, joined, granted));
  const outcome = await withTimeout(counting, CLAIM_WAIT_MS);
  if (outcome === TIMED_OUT) {
    counting.catch(() => undefined);
    throw new PredictionLogUnavailable(
      `the prediction log (Redis) did not confirm the claims within ${CLAIM_WAIT_MS} ms (they are counted if it does; a retry then answers duplicates)`,
    );
  }
  const { duplicates, counted } = outcome;
  return {
    status: 200,
    body: { accepted: items.length - duplicates, duplicates, counted, rejected: [] },
  };
}
