// Triton's repository API: POST /v2/repository/models/{name}/load|unload and
// POST /v2/repository/index, enabled only with an admin token.
import { RequestError } from '../../../shared/errors.js';
import { readBody, requireBearer, type Exchange, type Reply } from '../../../shared/http.js';
import type { PredictorState } from '../state.js';
import { checkModelName } from './models.js';

function authorizeAdmin(state: PredictorState, exchange: Exchange): void {
  const token = state.config.adminToken;
  if (!token) {
    throw new RequestError(
      403,
      'the repository API is disabled; start weir-predictor with --admin-token (or WEIR_PREDICTOR_ADMIN_TOKEN) to enable it',
    );
  }
  requireBearer(exchange.req, token, 'the repository API');
}

/** (Re)loads the target version now, even when it is unchanged: the explicit way to pick what the repository holds. */
export async function load(state: PredictorState, exchange: Exchange): Promise<Reply> {
  authorizeAdmin(state, exchange);
  checkModelName(state, exchange.params.model!);
  await readBody(exchange.req, state.config.maxBodyBytes);
  const model = await state.repository.load().catch((err: Error) => {
    throw new RequestError(400, `failed to load "${state.config.model}": ${err.message}`);
  });
  return { status: 200, body: { name: model.name, version: model.version, state: 'READY' } };
}

/** Stops serving until the next explicit load. */
export async function unload(state: PredictorState, exchange: Exchange): Promise<Reply> {
  authorizeAdmin(state, exchange);
  checkModelName(state, exchange.params.model!);
  await readBody(exchange.req, state.config.maxBodyBytes);
  await state.repository.unload();
  return { status: 200, body: { name: state.config.model, state: 'UNAVAILABLE' } };
}

/** Every version on disk, and which one serves. */
export async function index(state: PredictorState, exchange: Exchange): Promise<Reply> {
  authorizeAdmin(state, exchange);
  const serving = state.repository.serving;
  const versions = await state.repository.versions();
  return {
    status: 200,
    body: versions.map((v) => ({
      name: state.config.model,
      version: v,
      state: serving?.version === v ? 'READY' : 'UNAVAILABLE',
    })),
  };
}
