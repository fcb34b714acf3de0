// weir's two Grafana dashboards, built from code so every panel follows the same
// rules: the same variables (datasource, namespace, model, rollout), one query
// style, and no panel without a query. `make dashboards` writes dashboards/*.json;
// a test checks that the files are current, that every query parses as PromQL,
// and (in the local end-to-end run) that every query returns data.

export interface PanelTarget {
  expr: string;
  legendFormat: string;
  /** Instant query (tables, stats). */
  instant?: boolean;
}

interface PanelSpec {
  title: string;
  description: string;
  type: 'timeseries' | 'table' | 'state-timeline' | 'stat';
  unit?: string;
  targets: PanelTarget[];
  width?: number;
  height?: number;
  /** Extra fieldConfig overrides, e.g. the fill between a confidence band's edges. */
  overrides?: unknown[];
  min?: number;
  max?: number;
}

const DS = { type: 'prometheus', uid: '${datasource}' };

/** Accuracy per version over 5 minutes of ground truth, and its normal-approximation 95% band. */
function accuracyTargets(selector: string): PanelTarget[] {
  const correct = `sum by (version) (increase(weir_predictor_feedback_total{${selector},outcome="correct"}[5m]))`;
  const labelled = `sum by (version) (increase(weir_predictor_feedback_total{${selector}}[5m]))`;
  const p = `(${correct} / ${labelled})`;
  const half = `1.96 * sqrt(${p} * (1 - ${p}) / ${labelled})`;
  return [
    { expr: p, legendFormat: '{{version}}' },
    { expr: `${p} - ${half}`, legendFormat: '{{version}} lower 95%' },
    { expr: `${p} + ${half}`, legendFormat: '{{version}} upper 95%' },
  ];
}

/** The band's edges ("... lower 95%", "... upper 95%") are thin dashed lines, out of the legend. */
const BAND_OVERRIDES = [
  {
    matcher: { id: 'byRegexp', options: '.* (lower|upper) 95%' },
    properties: [
      { id: 'custom.lineWidth', value: 1 },
      { id: 'custom.lineStyle', value: { fill: 'dash', dash: [4, 4] } },
      { id: 'custom.hideFrom', value: { legend: true, tooltip: false, viz: false } },
    ],
  },
];

function businessValueTarget(selector: string): PanelTarget {
  const sum = (metric: string) =>
    `sum by (version) (increase(weir_predictor_business_value_${metric}{${selector}}[5m]))`;
  return {
    expr: `(${sum('gains_sum_total')} - ${sum('losses_sum_total')}) / ${sum('samples_total')}`,
    legendFormat: '{{version}}',
  };
}

/** A counter that may not exist yet (nothing counted) as 0 for every series `like` has. */
const orZero = (expr: string, like: string) => `(${expr} or 0 * ${like})`;

/** Error share by version; versions with no errors show 0 rather than no line. */
function errorRateTarget(metric: string, byLabel: string, selector: string, errorMatcher: string): PanelTarget {
  const rate = (extra: string) => `sum by (${byLabel}) (rate(${metric}{${selector}${extra}}[$__rate_interval]))`;
  return { expr: `${orZero(rate(`,${errorMatcher}`), rate(''))} / ${rate('')}`, legendFormat: `{{${byLabel}}}` };
}

/** Cache hits over lookups by version; a version with no hit yet shows 0. */
function cacheHitTarget(selector: string): PanelTarget {
  const rate = (metric: string) =>
    `sum by (version) (rate(weir_predictor_cache_${metric}_total{${selector}}[$__rate_interval]))`;
  const hits = orZero(rate('hits'), rate('misses'));
  return { expr: `${hits} / (${hits} + ${orZero(rate('misses'), rate('hits'))})`, legendFormat: '{{version}}' };
}

function latencyTargets(bucket: string, byLabel: string, selector: string): PanelTarget[] {
  return [0.5, 0.95, 0.99].map((q) => ({
    expr: `histogram_quantile(${q}, sum by (${byLabel}, le) (rate(${bucket}{${selector}}[$__rate_interval])))`,
    legendFormat: `{{${byLabel}}} p${Math.round(q * 100)}`,
  }));
}

function panels(specs: PanelSpec[]): unknown[] {
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  return specs.map((spec, i) => {
    const w = spec.width ?? 12;
    const h = spec.height ?? 8;
    if (x + w > 24) {
      x = 0;
      y += rowHeight;
      rowHeight = 0;
    }
    const gridPos = { x, y, w, h };
    x += w;
    rowHeight = Math.max(rowHeight, h);
    return {
      id: i + 1,
      type: spec.type,
      title: spec.title,
      description: spec.description,
      datasource: DS,
      gridPos,
      fieldConfig: {
        defaults: {
          unit: spec.unit ?? 'short',
          ...(spec.min !== undefined ? { min: spec.min } : {}),
          ...(spec.max !== undefined ? { max: spec.max } : {}),
        },
        overrides: spec.overrides ?? [],
      },
      options:
        spec.type === 'table'
          ? { showHeader: true }
          : {
              legend: { displayMode: 'table', placement: 'bottom', calcs: ['lastNotNull'] },
              tooltip: { mode: 'multi' },
            },
      targets: spec.targets.map((t, j) => ({
        datasource: DS,
        refId: String.fromCharCode(65 + j),
        expr: t.expr,
        legendFormat: t.legendFormat,
        range: !t.instant,
        instant: t.instant === true,
        ...(spec.type === 'table' ? { format: 'table' } : {}),
      })),
      ...(spec.type === 'table'
        ? { transformations: [{ id: 'organize', options: { excludeByName: { Time: true } } }] }
        : {}),
    };
  });
}

function variable(name: string, label: string, query: string) {
  return {
    name,
    label,
    type: 'query',
    datasource: DS,
    query: { query, refId: `${name}-values` },
    definition: query,
    refresh: 2,
    includeAll: true,
    multi: true,
    allValue: '.*',
    current: { selected: true, text: ['All'], value: ['$__all'] },
    sort: 1,
  };
}

function dashboard(uid: string, title: string, description: string, variables: unknown[], specs: PanelSpec[]) {
  return {
    uid,
    title,
    description,
    tags: ['weir'],
    timezone: 'browser',
    schemaVersion: 39,
    version: 1,
    editable: true,
    refresh: '30s',
    time: { from: 'now-3h', to: 'now' },
    templating: {
      list: [
        { name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus', current: {}, refresh: 1 },
        ...variables,
      ],
    },
    annotations: {
      list: [
        {
          builtIn: 1,
          datasource: { type: 'grafana', uid: '-- Grafana --' },
          enable: true,
          hide: true,
          iconColor: 'rgba(0, 211, 255, 1)',
          name: 'Annotations & Alerts',
          type: 'dashboard',
        },
        {
          name: 'weir stage changes',
          datasource: DS,
          enable: true,
          iconColor: 'orange',
          // A mark at the exact time each stage began: the series' value is the timestamp (Grafana wants ms).
          // A windowed changes() misses changes that fall between two steps' windows.
          expr: 'max by (rollout) (weir_rollout_stage_started_timestamp_seconds{rollout=~"$rollout"}) * 1000',
          step: '$__interval',
          titleFormat: '{{rollout}}: stage started',
          tagKeys: 'rollout',
          useValueForTime: true,
        },
      ],
    },
    panels: panels(specs),
  };
}

const ROLLOUT = 'rollout=~"$rollout"';
const ISTIO = 'destination_service_namespace=~"$namespace",request_mirrored!="true"';
const PREDICTOR = 'namespace=~"$namespace",model=~"$model"';

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
            expr: `100 * sum by (destination_version) (rate(istio_requests_total{${ISTIO}}[$__rate_interval])) / ignoring (destination_version) group_left () sum(rate(istio_requests_total{${ISTIO}}[$__rate_interval]))`,
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
            expr: `sum by (destination_version, response_code) (rate(istio_requests_total{${ISTIO}}[$__rate_interval]))`,
            legendFormat: '{{destination_version}} {{response_code}}',
          },
        ],
      },
      {
        title: 'Latency p50, p95, p99 by version',
        description: 'Request latency seen by the mesh, per version.',
        type: 'timeseries',
        unit: 'ms',
        targets: latencyTargets('istio_request_duration_milliseconds_bucket', 'destination_version', ISTIO),
      },
      {
        title: 'Error rate by version',
        description: 'Share of requests that did not answer 2xx.',
        type: 'timeseries',
        unit: 'percentunit',
        min: 0,
        targets: [errorRateTarget('istio_requests_total', 'destination_version', ISTIO, 'response_code!~"2.."')],
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

export const DASHBOARDS = { 'rollouts.json': rolloutsDashboard, 'predictors.json': predictorsDashboard };

/** Every PromQL expression in a dashboard: panel targets, variable queries and annotations. */
export function dashboardQueries(
  board: ReturnType<typeof rolloutsDashboard>,
): { where: string; expr: string; instant: boolean }[] {
  const out: { where: string; expr: string; instant: boolean }[] = [];
  for (const panel of board.panels as {
    title: string;
    targets: { refId: string; expr: string; instant: boolean }[];
  }[]) {
    for (const t of panel.targets)
      out.push({ where: `panel "${panel.title}" ${t.refId}`, expr: t.expr, instant: t.instant });
  }
  for (const a of board.annotations.list as { name: string; expr?: string }[])
    if (a.expr) out.push({ where: `annotation "${a.name}"`, expr: a.expr, instant: false });
  return out;
}

/** label_values(selector, label) → the selector, which is what Prometheus evaluates for a variable. */
export function variableSelectors(
  board: ReturnType<typeof rolloutsDashboard>,
): { where: string; expr: string; label: string }[] {
  return (board.templating.list as { name: string; definition?: string }[])
    .filter((v) => v.definition)
    .map((v) => {
      const m = /^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$/.exec(v.definition!);
      if (!m) throw new Error(`variable ${v.name}: "${v.definition}" is not label_values(selector, label)`);
      return { where: `variable $${v.name}`, expr: m[1]!, label: m[2]! };
    });
}
