// POST /v2/models/{name}[/versions/{v}]/infer: decode, answer from the cache or
// a batch run, and remember the prediction for its ground truth.
import { randomUUID } from 'node:crypto';
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
  const body = parseJsonBody((await readBody(req, state.config.maxBodyBytes)).toString('utf8'));
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
  // The body's id, else the mesh's request id (Envoy sets it, the same on a mirrored copy, so a
  // shadow's prediction joins the same label), else a new one.
  const header = req.headers['x-request-id'];
  const id =
    request.id ?? (typeof header === 'string' && header !== '' && header.length <= 256 ? header : randomUUID());
  // Each output becomes plain numbers once; the response and the feedback store share them.
  const plain = new Map(
    outputs.map((o) => [o.name, { tensor: o, data: Array.from(o.data as ArrayLike<number | bigint>, Number) }]),
  );
  const task = model.task;
  const predicted = plain.get(task.output);
  if (predicted) {
    if (task.type === 'classification') state.metrics.predicted(model.version, predicted.data, task.classes);
    state.predictions.record(id, {
      version: model.version,
      outputs: predicted.data,
      probabilities: task.type === 'classification' ? plain.get('probability')?.data : undefined,
      at: Date.now(),
    });
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
