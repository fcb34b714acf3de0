// The predictor's routes: Open Inference Protocol v2 REST (as KServe, Triton
// and MLServer speak it), Triton's repository API, ground truth and /metrics.
// Route names are the `endpoint` label of weir_predictor_requests_total.
import { metricsReply, type Route } from '../../shared/http.js';
import { feedback } from './endpoints/feedback.js';
import { infer } from './endpoints/infer.js';
import { metadataOf, checkModelName, modelFor } from './endpoints/models.js';
import { index, load, unload } from './endpoints/repository.js';
import type { PredictorState } from './state.js';

export const SERVER_NAME = 'weir-predictor';
export const SERVER_VERSION = '0.1.0';

/** Every route of a predictor, bound to its state. */
export function predictorRoutes(state: PredictorState): Route[] {
  const models = '/v2/models/:model';
  const versions = '/v2/models/:model/versions/:version';
  const both = (suffix: string) => [`${models}${suffix}`, `${versions}${suffix}`];
  const ready = (): { status: number; body: unknown } => {
    const reason = state.notReadyReason();
    return { status: reason ? 503 : 200, body: { ready: !reason, ...(reason ? { reason } : {}) } };
  };
  return [
    { method: 'GET', path: '/metrics', name: 'metrics', handler: () => metricsReply(state.metrics.registry) },
    { method: 'GET', path: '/v2/health/live', name: 'health', handler: () => ({ status: 200, body: { live: true } }) },
    { method: 'GET', path: '/v2/health/ready', name: 'health', handler: ready },
    {
      method: 'GET',
      path: '/v2',
      name: 'metadata',
      handler: () => ({
        status: 200,
        body: { name: SERVER_NAME, version: SERVER_VERSION, extensions: ['model_repository', 'feedback'] },
      }),
    },
    ...both('/infer').map((path): Route => ({ method: 'POST', path, name: 'infer', handler: (x) => infer(state, x) })),
    ...both('/feedback').map((path): Route => ({
      method: 'POST',
      path,
      name: 'feedback',
      handler: (x) => feedback(state, x),
    })),
    ...both('/ready').map((path): Route => ({
      method: 'GET',
      path,
      name: 'health',
      handler: ({ params }) => {
        checkModelName(state, params.model!);
        const serving = state.repository.serving;
        const isReady =
          state.notReadyReason() === undefined && (!params.version || serving?.version === params.version);
        return {
          status: isReady ? 200 : 503,
          body: { name: state.config.model, version: params.version ?? serving?.version, ready: isReady },
        };
      },
    })),
    ...both('').map((path): Route => ({
      method: 'GET',
      path,
      name: 'metadata',
      handler: ({ params, labels }) => {
        const model = modelFor(state, params.model!, params.version, false);
        labels.version = model.version;
        return { status: 200, body: metadataOf(model) };
      },
    })),
    { method: 'POST', path: '/v2/repository/models/:model/load', name: 'repository', handler: (x) => load(state, x) },
    {
      method: 'POST',
      path: '/v2/repository/models/:model/unload',
      name: 'repository',
      handler: (x) => unload(state, x),
    },
    { method: 'POST', path: '/v2/repository/index', name: 'repository', handler: (x) => index(state, x) },
  ];
}
