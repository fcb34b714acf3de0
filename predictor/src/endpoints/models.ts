// Resolving the model a URL names, and its Open Inference Protocol metadata.
import { RequestError } from '../../../shared/errors.js';
import type { LoadedModel } from '../model.js';
import type { PredictorState } from '../state.js';

/** 404 unless the URL names the model this predictor serves. */
export function checkModelName(state: PredictorState, name: string): void {
  if (name !== state.config.model) {
    throw new RequestError(
      404,
      `model ${JSON.stringify(name.slice(0, 100))} not found; this predictor serves "${state.config.model}"`,
    );
  }
}

/** The serving model, if it matches the name (and version) in the URL; 503 while none serves or while draining. */
export function modelFor(
  state: PredictorState,
  name: string,
  version: string | undefined,
  needReady = true,
): LoadedModel {
  checkModelName(state, name);
  const serving = state.repository.serving;
  if (!serving) {
    throw new RequestError(
      503,
      `model "${state.config.model}" is not loaded yet (or was unloaded); check /v2/health/ready`,
      { 'retry-after': '1' },
    );
  }
  if (version !== undefined && version !== serving.version) {
    throw new RequestError(
      404,
      `version ${JSON.stringify(version.slice(0, 100))} of "${state.config.model}" is not served here; serving: ${serving.version}`,
    );
  }
  if (needReady && state.draining)
    throw new RequestError(503, 'shutting down; retry against another replica', { 'retry-after': '1' });
  return serving;
}

/** The model's metadata as OIP v2 describes it (GET /v2/models/{name}). */
export function metadataOf(model: LoadedModel): unknown {
  const { input } = model;
  const datatype = { float32: 'FP32', float64: 'FP64', int32: 'INT32', int64: 'INT64' }[input.elementType];
  type OutputInfo = { name: string; datatype?: string; shape?: number[] };
  const outputs: OutputInfo[] =
    (model.metadata.outputs as OutputInfo[] | undefined) ?? input.outputNames.map((name) => ({ name }));
  return {
    name: model.name,
    versions: [model.version],
    platform: 'onnxruntime_onnx',
    inputs: [{ name: input.name, datatype, shape: [-1, input.width] }],
    outputs: outputs.map(({ name, datatype: dt, shape }) => ({ name, datatype: dt, shape })),
    parameters: {
      features: model.metadata.features,
      holdout_accuracy: model.metadata.holdoutAccuracy,
      description: model.metadata.description,
    },
  };
}
