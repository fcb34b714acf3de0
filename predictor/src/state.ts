// What the endpoints of one predictor share: its configuration, the model
// serving now, the cache, the prediction log and the metrics.
import type { Logger } from '../../shared/log.js';
import type { Batcher } from './batcher.js';
import type { PredictionCache } from './cache.js';
import type { PredictorConfig } from './config.js';
import type { PredictorMetrics } from './metrics.js';
import type { LoadedModel } from './model.js';
import type { PredictionLog } from './prediction-log/log.js';
import type { ModelRepository } from './repository.js';

export interface PredictorState {
  readonly config: PredictorConfig;
  readonly log: Logger;
  readonly metrics: PredictorMetrics;
  readonly repository: ModelRepository;
  readonly cache: PredictionCache;
  /** Where predictions wait for their ground truth: in this process, or shared in Redis. */
  readonly predictions: PredictionLog;
  /** The batcher of a loaded model; undefined while it is being replaced. */
  batcherFor(model: LoadedModel): Batcher | undefined;
  /** True from SIGTERM on. */
  readonly draining: boolean;
  /** Why the predictor is not ready (draining, nothing loaded, serving files vanished); undefined when it is. */
  notReadyReason(): string | undefined;
}
