// The rollouts dashboard: configured weight against each version's actual share,
// requests, latency, errors, accuracy, business value, phases, verdicts and
// comparison effects, per rollout.
import { dashboard, variable } from './panels.js';
import {
  accuracyTargets,
  BAND_OVERRIDES,
  businessValueTarget,
  errorRateTarget,
  ISTIO,
  latencyTargets,
  PREDICTOR,
  ROLLOUT,
} from './promql.js';
import { ISTIO_DURATION, ISTIO_REQUESTS } from '../../../shared/metric-names.js';

/** The rollouts dashboard (see the module comment). */
export function rolloutsDashboard() {
  return dashboard(
    'weir-rollouts',
    'weir / Rollouts',
    'Each ModelRollout: weights, traffic, latency, errors, accuracy and business value per version, the stage timeline and the analysis verdicts.',
    [
      variable('namespace', 'Namespace', 'label_values(weir_rollout_phase, rollout_namespace)'),
      variable('model', 'Model', 'label_values(weir_rollout_phase{rollout_namespace=~"$namespace"}, model)'),
      variable(
        'rollout',
        'Rollout',
        'label_values(weir_rollout_phase{rollout_namespace=~"$namespace",model=~"$model"}, rollout)',
      ),
    ],
    [
      {
        title: 'Canary weight: configured vs actual traffic share',
        description:
          'The canary weight weir set, and the share of requests each version actually served (Istio telemetry). A gap means routing does not do what weir asked.',
        type: 'timeseries',
        unit: 'percent',
        min: 0,
        max: 100,
        targets: [
          {
            expr: `max by (rollout) (weir_rollout_canary_weight{${ROLLOUT}})`,
            legendFormat: '{{rollout}} configured canary',
          },
          {
            expr: `100 * sum by (destination_version) (rate(${ISTIO_REQUESTS}{${ISTIO}}[$__rate_interval])) / ignoring (destination_version) group_left () sum(rate(${ISTIO_REQUESTS}{${ISTIO}}[$__rate_interval]))`,
            legendFormat: '{{destination_version}} actual share',
          },
        ],
      },
      {
        title: 'Requests by version and code',
        description: 'Requests per second each version answered, by response code.',
        type: 'timeseries',
        unit: 'reqps',
        targets: [
          {
            expr: `sum by (destination_version, response_code) (rate(${ISTIO_REQUESTS}{${ISTIO}}[$__rate_interval]))`,
            legendFormat: '{{destination_version}} {{response_code}}',
          },
        ],
      },
      {
        title: 'Latency p50, p95, p99 by version',
        description: 'Request latency seen by the mesh, per version.',
        type: 'timeseries',
        unit: 'ms',
        targets: latencyTargets(`${ISTIO_DURATION}_bucket`, 'destination_version', ISTIO),
      },
      {
        title: 'Error rate by version',
        description: 'Share of requests that did not answer 2xx.',
        type: 'timeseries',
        unit: 'percentunit',
        min: 0,
        targets: [errorRateTarget(ISTIO_REQUESTS, 'destination_version', ISTIO, 'response_code!~"2.."')],
      },
      {
        title: 'Accuracy with 95% band',
        description:
          'Share of labelled predictions that were right, over 5 minutes of ground truth, with a normal-approximation 95% band.',
        type: 'timeseries',
        unit: 'percentunit',
        targets: accuracyTargets(PREDICTOR),
        overrides: BAND_OVERRIDES,
      },
      {
        title: 'Business value per labelled prediction',
        description: 'Realized value (gains minus losses) per labelled prediction, over 5 minutes.',
        type: 'timeseries',
        targets: [businessValueTarget(PREDICTOR)],
      },
      {
        title: 'Stage timeline: phase',
        description:
          'Which phase each rollout was in (1 while in it). Stage changes are also annotations on every panel.',
        type: 'state-timeline',
        width: 24,
        height: 6,
        targets: [
          {
            expr: `max by (rollout, phase) (weir_rollout_phase{${ROLLOUT}}) == 1`,
            legendFormat: '{{rollout}} {{phase}}',
          },
        ],
      },
      {
        title: 'Analysis verdicts',
        description: 'The verdict of every guardrail and comparison at the last analysis.',
        type: 'table',
        targets: [
          {
            expr: `max by (rollout, kind, metric, verdict) (weir_rollout_analysis_verdict{${ROLLOUT}}) == 1`,
            legendFormat: '{{metric}}',
            instant: true,
          },
        ],
      },
      {
        title: 'Comparison effects with confidence intervals',
        description:
          'Canary − stable for each comparison at the last analysis, with its interval (always-valid for mSPRT), and the adjusted p-value.',
        type: 'table',
        targets: [
          {
            expr: `max by (rollout, metric, bound) (weir_rollout_comparison_effect{${ROLLOUT}})`,
            legendFormat: '{{metric}} {{bound}}',
            instant: true,
          },
          {
            expr: `max by (rollout, metric) (weir_rollout_comparison_p_value{${ROLLOUT}})`,
            legendFormat: '{{metric}} p',
            instant: true,
          },
        ],
      },
      {
        title: 'Time in the current stage',
        description: 'Seconds since the current stage began.',
        type: 'stat',
        unit: 's',
        targets: [
          {
            expr: `time() - max by (rollout) (weir_rollout_stage_started_timestamp_seconds{${ROLLOUT}})`,
            legendFormat: '{{rollout}}',
          },
        ],
      },
    ],
  );
}
