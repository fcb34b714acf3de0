// The predictors dashboard: the quality panels per version, plus batching,
// the cache, queue depth, model loads and readiness.
import { dashboard, variable } from './panels.js';
import {
  accuracyTargets,
  BAND_OVERRIDES,
  businessValueTarget,
  cacheHitTarget,
  errorRateTarget,
  latencyTargets,
  PREDICTOR,
} from './promql.js';
import { PREDICTOR_CONFUSION, PREDICTOR_FEEDBACK, PREDICTOR_LOG_UP } from '../../../shared/metric-names.js';

/** The predictors dashboard (see the module comment). */
export function predictorsDashboard() {
  const sel = `${PREDICTOR},version=~"$version"`;
  const infer = `${sel},endpoint="infer"`;
  return dashboard(
    'weir-predictors',
    'weir / Predictors',
    'The ONNX predictors of every model version: traffic, latency, errors, accuracy, business value, and their internals (batching, cache, queue, model loads).',
    [
      variable('namespace', 'Namespace', 'label_values(weir_predictor_model_ready, namespace)'),
      variable('model', 'Model', 'label_values(weir_predictor_model_ready{namespace=~"$namespace"}, model)'),
      variable('rollout', 'Rollout', 'label_values(weir_rollout_phase{model=~"$model"}, rollout)'),
      variable(
        'version',
        'Version',
        'label_values(weir_predictor_model_ready{namespace=~"$namespace",model=~"$model"}, version)',
      ),
    ],
    [
      {
        title: 'Requests by version and code',
        description: 'Inference requests per second, by HTTP status code.',
        type: 'timeseries',
        unit: 'reqps',
        targets: [
          {
            expr: `sum by (version, code) (rate(weir_predictor_requests_total{${infer}}[$__rate_interval]))`,
            legendFormat: '{{version}} {{code}}',
          },
        ],
      },
      {
        title: 'Latency p50, p95, p99 by version',
        description: 'Inference request latency inside the predictor.',
        type: 'timeseries',
        unit: 's',
        targets: latencyTargets('weir_predictor_request_duration_seconds_bucket', 'version', infer),
      },
      {
        title: 'Error rate by version',
        description: 'Share of inference requests answered with 5xx.',
        type: 'timeseries',
        unit: 'percentunit',
        min: 0,
        targets: [errorRateTarget('weir_predictor_requests_total', 'version', infer, 'code=~"5.."')],
      },
      {
        title: 'Accuracy with 95% band',
        description:
          'Share of labelled predictions that were right, over 5 minutes, with a normal-approximation 95% band.',
        type: 'timeseries',
        unit: 'percentunit',
        targets: accuracyTargets(sel),
        overrides: BAND_OVERRIDES,
      },
      {
        title: 'Business value per labelled prediction',
        description: 'Realized value (gains minus losses) per labelled prediction, over 5 minutes.',
        type: 'timeseries',
        targets: [businessValueTarget(sel)],
      },
      {
        title: 'Ground truth: labels counted, and the prediction log',
        description:
          "Labelled predictions counted per second by the version that predicted them (whichever replica received the label), and whether each version's replicas reach the prediction log (1 = every one does).",
        type: 'timeseries',
        targets: [
          {
            expr: `sum by (version) (rate(${PREDICTOR_FEEDBACK}{${sel}}[$__rate_interval]))`,
            legendFormat: '{{version}} labelled/s',
          },
          { expr: `min by (version) (${PREDICTOR_LOG_UP}{${sel}})`, legendFormat: '{{version}} log up' },
        ],
      },
      {
        title: 'Precision and recall (positive class)',
        description:
          'From the confusion matrix: precision = TP / predicted positive, recall = TP / actual positive, with the positive class "1".',
        type: 'timeseries',
        unit: 'percentunit',
        min: 0,
        max: 1,
        targets: [
          {
            expr: `sum by (version) (rate(${PREDICTOR_CONFUSION}{${sel},predicted="1",actual="1"}[$__rate_interval])) / sum by (version) (rate(${PREDICTOR_CONFUSION}{${sel},predicted="1"}[$__rate_interval]))`,
            legendFormat: '{{version}} precision',
          },
          {
            expr: `sum by (version) (rate(${PREDICTOR_CONFUSION}{${sel},predicted="1",actual="1"}[$__rate_interval])) / sum by (version) (rate(${PREDICTOR_CONFUSION}{${sel},actual="1"}[$__rate_interval]))`,
            legendFormat: '{{version}} recall',
          },
        ],
      },
      {
        title: 'Batch size',
        description:
          'Rows per ONNX Runtime run: the mean and the p95. Larger batches mean the dynamic batcher is absorbing load.',
        type: 'timeseries',
        targets: [
          {
            expr: `sum by (version) (rate(weir_predictor_batch_size_sum{${sel}}[$__rate_interval])) / sum by (version) (rate(weir_predictor_batch_size_count{${sel}}[$__rate_interval]))`,
            legendFormat: '{{version}} mean',
          },
          {
            expr: `histogram_quantile(0.95, sum by (version, le) (rate(weir_predictor_batch_size_bucket{${sel}}[$__rate_interval])))`,
            legendFormat: '{{version}} p95',
          },
        ],
      },
      {
        title: 'Prediction cache hit ratio',
        description: 'Share of cacheable inference requests answered from the prediction cache.',
        type: 'timeseries',
        unit: 'percentunit',
        min: 0,
        max: 1,
        targets: [cacheHitTarget(sel)],
      },
      {
        title: 'Queue depth',
        description: 'Requests waiting for a batch; the predictor answers 503 past --max-queue.',
        type: 'timeseries',
        targets: [{ expr: `max by (version) (weir_predictor_queue_depth{${sel}})`, legendFormat: '{{version}}' }],
      },
      {
        title: 'Model loads and readiness',
        description: 'Model load attempts by result, and whether each version is loaded and serving (1).',
        type: 'timeseries',
        targets: [
          {
            expr: `sum by (version, result) (weir_predictor_model_loads_total{${sel}})`,
            legendFormat: '{{version}} loads {{result}}',
          },
          { expr: `min by (version) (weir_predictor_model_ready{${sel}})`, legendFormat: '{{version}} ready' },
        ],
      },
      {
        title: 'Inference time per batch p95',
        description: 'ONNX Runtime run time per batch.',
        type: 'timeseries',
        unit: 's',
        targets: [
          {
            expr: `histogram_quantile(0.95, sum by (version, le) (rate(weir_predictor_inference_duration_seconds_bucket{${sel}}[$__rate_interval])))`,
            legendFormat: '{{version}}',
          },
        ],
      },
    ],
  );
}
