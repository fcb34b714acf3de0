// POST /v2/models/{name}[/versions/{v}]/infer: decode, answer from the cache or
// a batch run, and remember the prediction for its ground truth.
import { createHash, randomUUID } from 'node:crypto';
import { RequestError } from '../../../shared/errors.js';
import { parseJsonBody, readBody, type Exchange, type Reply } from '../../../shared/http.js';
import { cacheKey } from '../cache.js';
import type { OutputTensor } from '../model.js';
import type { PredictorState } from '../state.js';
import { decodeInferRequest } from '../tensor.js';
import { modelFor } from './models.js';

/** POST …/infer: the serving model's answer, from the cache or a batch run. */
export async function infer(state: PredictorState, { req, params, labels }: Exchange): Promise<Reply> {
  const model = modelFor(state, params.model!, params.version);
  labels.version = model.version;
  const raw = await readBody(req, state.config.maxBodyBytes);
  const body = parseJsonBody(raw.toString('utf8'));
  // Each element takes at least two bytes of JSON ("0,"), so no honest request carries more than this.
  const request = decodeInferRequest(body, model.input, {
    maxElements: Math.max(model.input.width, Math.floor(state.config.maxBodyBytes / 2)),
  });
  const bypass = /no-cache|no-store/i.test(String(req.headers['cache-control'] ?? ''));
  let outputs: OutputTensor[] | undefined;
  // Keyed by the load, not the version name: a reload of the same version never answers from the old model's entries.
  const key = state.cache.enabled && !bypass ? cacheKey(model.loadId, request.values) : undefined;
  if (key !== undefined) {
    outputs = state.cache.get(key);
    state.metrics.cache(model.version, outputs !== undefined);
  }
  if (!outputs) {
    const batcher = state.batcherFor(model);
    if (!batcher)
      throw new RequestError(503, `version ${model.version} is being replaced; retry`, { 'retry-after': '1' });
    outputs = await batcher.submit(request.values, request.rows);
    if (key !== undefined) state.cache.set(key, outputs);
  }
  // The body's id, else one made from the mesh's request id (Envoy sets it, the same on a mirrored
  // copy) and a hash of the body: a shadow's copy of the request joins the same label, while a
  // service that sends one x-request-id on several different calls gets one id per call.
  const header = req.headers['x-request-id'];
  const id =
    request.id ??
    (typeof header === 'string' && header !== '' && header.length <= 200
      ? `${header}.${createHash('sha256').update(raw).digest('base64url').slice(0, 16)}`
      : randomUUID());
  // Each output becomes plain numbers once; the response and the feedback store share them.
  const plain = new Map(
    outputs.map((o) => [o.name, { tensor: o, data: Array.from(o.data as ArrayLike<number | bigint>, Number) }]),
  );
  const task = model.task;
  const predicted = plain.get(task.output);
  if (predicted) {
    if (task.type === 'classification') state.metrics.predicted(model.version, predicted.data, task.classes);
    const probability = plain.get('probability');
    if (predicted.data.every(Number.isFinite))
      state.predictions.record(id, {
        version: model.version,
        outputs: predicted.data,
        // One probability per row (of the positive class); a per-class matrix is not read as one.
        probabilities:
          task.type === 'classification' && probability?.tensor.perRow === 1 ? probability.data : undefined,
        at: Date.now(),
      });
    // A non-finite output cannot be scored; it is counted, never logged.
    else state.metrics.notLogged(model.version, 'invalid');
  }
  return {
    status: 200,
    body: {
      model_name: model.name,
      model_version: model.version,
      id,
      outputs: request.outputs.map((name) => {
        const { tensor, data } = plain.get(name)!;
        return {
          name,
          datatype: tensor.datatype,
          shape: tensor.perRow === 1 ? [request.rows] : [request.rows, tensor.perRow],
          data,
        };
      }),
    },
  };
}
