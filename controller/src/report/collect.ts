// What an experiment report needs besides the stored rollout: from Prometheus,
// each model metric and the business value per version over consecutive,
// non-overlapping analysis windows (for the time series and the correlation),
// and the totals over the whole rollout (for the business impact and the
// baselines of the sample-size plan). Without Prometheus the report still has
// the design, the timeline and every verdict; it says what it left out.
import { parseDuration } from '../../../predictor/src/duration.js';
import type { ModelRollout } from '../api/schema.js';
import { renderQuery, type TemplateVariables } from '../analysis/template.js';
import type { PlannedQuery } from '../analysis/observations.js';
import { interpret, type PrometheusMetrics } from '../providers/prometheus/provider.js';
import { businessImpact, type BusinessImpact } from '../stats/business-impact.js';

/** Realized business value per labelled prediction, from the predictor's counters. */
export const BUSINESS_VALUE_QUERY = [
  '(sum(increase(weir_predictor_business_value_gains_sum_total{model="{{model}}",version="{{version}}"}[{{window}}]))',
  ' - sum(increase(weir_predictor_business_value_losses_sum_total{model="{{model}}",version="{{version}}"}[{{window}}])))',
  ' / sum(increase(weir_predictor_business_value_samples_total{model="{{model}}",version="{{version}}"}[{{window}}]))',
].join('');

export const VALUE_METRIC = 'business value';

/** One version's value of every metric in one window ending at `end` (seconds). */
export interface WindowPoint {
  end: number;
  version: string;
  values: Record<string, number>;
}

export interface VersionTotals {
  version: string;
  requests: number;
  errors: number;
  labelled: number;
  correct: number;
  meanLatencyMs: number;
  /** Standard error of the mean latency, from the histogram's bucket midpoints. */
  latencySeMs: number;
}

export interface ReportData {
  rollout: ModelRollout;
  generatedAt: string;
  /** Rollout start and end (the last step, or now while it runs), seconds since the epoch. */
  span: { start: number; end: number };
  windowSeconds: number;
  /** The metric names correlated with business value, in spec order. */
  modelMetrics: string[];
  windows: WindowPoint[];
  totals: VersionTotals[];
  /** Stable's observed value per comparison, the baseline of the sample-size plan. */
  baselines: Record<string, { proportion?: number; sd?: number }>;
  business?: BusinessImpact;
  /** Requests per second over the rollout, both versions. */
  trafficRate?: number;
  /** What could not be collected, and why. */
  notes: string[];
}

export interface CollectOptions {
  prometheus?: PrometheusMetrics;
  /** Window length; default max(analysis interval, rollout length / 20, 5 s). */
  windowSeconds?: number;
  /** The {{namespace}} for a rollout without one. */
  namespace?: string;
  valueQuery?: string;
  now?: number;
}

/** Each model metric as one PromQL expression per version: guardrails as written, ratios for comparisons. */
function metricTemplates(rollout: ModelRollout): { name: string; template: string }[] {
  const { analysis } = rollout.spec;
  const list = analysis.guardrails.map((g) => ({ name: g.name, template: g.query }));
  for (const c of analysis.comparisons) {
    if (c.type === 'proportion') list.push({ name: c.name, template: `(${c.successes}) / (${c.trials})` });
    if (c.type === 'mean') list.push({ name: c.name, template: `(${c.sum}) / (${c.count})` });
  }
  return list;
}

/** Mean and its standard error from cumulative histogram buckets, each bucket at its midpoint. */
export function histogramMoments(
  buckets: { le: number; value: number }[],
): { n: number; mean: number; se: number } | undefined {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const finite = sorted.filter((b) => Number.isFinite(b.le));
  if (finite.length === 0) return undefined;
  const counts: { mid: number; count: number }[] = [];
  let previousLe = 0;
  let previousCount = 0;
  for (const b of sorted) {
    // The +Inf bucket has no upper edge: its requests count at the last finite bound.
    const mid = Number.isFinite(b.le) ? (previousLe + b.le) / 2 : finite.at(-1)!.le;
    counts.push({ mid, count: Math.max(0, b.value - previousCount) });
    previousCount = Math.max(previousCount, b.value);
    if (Number.isFinite(b.le)) previousLe = b.le;
  }
  const n = counts.reduce((a, c) => a + c.count, 0);
  if (n < 2) return undefined;
  const mean = counts.reduce((a, c) => a + c.mid * c.count, 0) / n;
  const variance = counts.reduce((a, c) => a + c.count * (c.mid - mean) ** 2, 0) / (n - 1);
  return { n, mean, se: Math.sqrt(variance / n) };
}

function spanOf(rollout: ModelRollout, now: number): { start: number; end: number } {
  const status = rollout.status!;
  const history = status.history;
  const startMs = Date.parse(status.startedAt ?? history[0]?.at ?? new Date(now).toISOString());
  const terminal = ['Promoted', 'RolledBack', 'Failed'].includes(status.phase);
  const endMs = terminal && history.length > 0 ? Date.parse(history.at(-1)!.at) : now;
  return { start: Math.floor(startMs / 1000), end: Math.max(Math.floor(startMs / 1000) + 1, Math.ceil(endMs / 1000)) };
}

export async function collectReport(rollout: ModelRollout, options: CollectOptions = {}): Promise<ReportData> {
  const now = options.now ?? Date.now();
  const span = spanOf(rollout, now);
  const length = span.end - span.start;
  const windowSeconds =
    options.windowSeconds ??
    Math.max(Math.ceil(parseDuration(rollout.spec.analysis.interval) / 1000), Math.ceil(length / 20), 5);
  const data: ReportData = {
    rollout,
    generatedAt: new Date(now).toISOString(),
    span,
    windowSeconds,
    modelMetrics: metricTemplates(rollout).map((m) => m.name),
    windows: [],
    totals: [],
    baselines: {},
    notes: [],
  };
  const prom = options.prometheus;
  if (!prom) {
    data.notes.push(
      'No Prometheus was given (--prometheus): the report leaves out the metric time series, the correlation with business value and the business impact.',
    );
    return data;
  }
  const { spec } = rollout;
  const versions = [spec.stable.version, spec.canary.version];
  const vars = (version: string, window: string): TemplateVariables => ({
    version,
    stable: spec.stable.version,
    canary: spec.canary.version,
    namespace: rollout.metadata.namespace ?? options.namespace ?? 'default',
    model: spec.model,
    window,
  });
  const failed = new Set<string>();
  const note = (what: string, err: unknown) => {
    const text = `${what}: ${(err as Error).message}`;
    if (!failed.has(text)) data.notes.push(text);
    failed.add(text);
  };

  // Time series over consecutive windows of windowSeconds.
  const series = [
    ...metricTemplates(rollout),
    { name: VALUE_METRIC, template: options.valueQuery ?? BUSINESS_VALUE_QUERY },
  ];
  const points = new Map<string, WindowPoint>();
  if (length >= windowSeconds) {
    await Promise.all(
      series.flatMap(({ name, template }) =>
        versions.map(async (version) => {
          try {
            const result = await prom.range(
              renderQuery(template, vars(version, `${windowSeconds}s`), name),
              span.start + windowSeconds,
              span.end,
              windowSeconds,
            );
            if (result.length > 1) throw new Error(`${result.length} series; expected one per version`);
            for (const [t, text] of result[0]?.values ?? []) {
              const value = Number(text);
              if (!Number.isFinite(value)) continue;
              const key = `${t}/${version}`;
              const point = points.get(key) ?? { end: t, version, values: {} };
              point.values[name] = value;
              points.set(key, point);
            }
          } catch (err) {
            note(`${name} (${version}) over windows`, err);
          }
        }),
      ),
    );
  } else data.notes.push(`The rollout ran ${length} s, shorter than one ${windowSeconds} s window: no time series.`);
  data.windows = [...points.values()].sort(
    (a, b) => a.end - b.end || versions.indexOf(a.version) - versions.indexOf(b.version),
  );

  // Totals over the whole rollout, evaluated at its end.
  const whole = `${length}s`;
  // The controller's own reading of an answer: one number (or bucket counts), else undefined.
  const answer = async (query: string, what: string, kind: PlannedQuery['kind']) => {
    try {
      return interpret({ key: what, kind, query }, await prom.instant(query, span.end));
    } catch (err) {
      note(what, err);
      return undefined;
    }
  };
  const at = async (query: string, what: string) => {
    const value = await answer(query, what, 'scalar');
    return typeof value === 'number' ? value : undefined;
  };
  for (const version of versions) {
    const served = `destination_version="${version}",request_mirrored!="true"`;
    const feedback = `model="${spec.model}",version="${version}"`;
    const [requests, errors, correct, labelled] = await Promise.all([
      at(`sum(increase(istio_requests_total{${served}}[${whole}]))`, 'requests'),
      at(`sum(increase(istio_requests_total{${served},response_code!~"2.."}[${whole}])) or vector(0)`, 'errors'),
      at(`sum(increase(weir_predictor_feedback_total{${feedback},outcome="correct"}[${whole}]))`, 'feedback'),
      at(`sum(increase(weir_predictor_feedback_total{${feedback}}[${whole}]))`, 'feedback'),
    ]);
    const buckets = await answer(
      `sum by (le) (increase(istio_request_duration_milliseconds_bucket{${served}}[${whole}]))`,
      'latency histogram',
      'buckets',
    );
    const latency = Array.isArray(buckets) ? histogramMoments(buckets) : undefined;
    if (requests === undefined || labelled === undefined || correct === undefined || !latency) continue;
    data.totals.push({
      version,
      requests,
      errors: errors ?? 0,
      labelled,
      correct,
      meanLatencyMs: latency.mean,
      latencySeMs: latency.se,
    });
  }
  if (data.totals.length === 2 && data.totals.every((t) => t.requests > 0 && t.labelled > 0)) {
    data.trafficRate = (data.totals[0]!.requests + data.totals[1]!.requests) / length;
    if (spec.analysis.business)
      data.business = impactFromTotals(data.totals[0]!, data.totals[1]!, spec.analysis.business, spec.analysis.alpha);
  } else
    data.notes.push(
      'Prometheus had no requests, feedback or latency for one of the versions over the rollout: no business impact.',
    );

  // Stable's value per comparison over the rollout: the baseline the sample-size plan starts from.
  for (const c of spec.analysis.comparisons) {
    const v = vars(spec.stable.version, whole);
    if (c.type === 'proportion') {
      const [s, n] = await Promise.all([at(renderQuery(c.successes, v), c.name), at(renderQuery(c.trials, v), c.name)]);
      if (s !== undefined && n) data.baselines[c.name] = { proportion: s / n };
    } else if (c.type === 'mean') {
      const [n, sum, squares] = await Promise.all([
        at(renderQuery(c.count, v), c.name),
        at(renderQuery(c.sum, v), c.name),
        at(renderQuery(c.sumOfSquares, v), c.name),
      ]);
      if (n && n > 1 && sum !== undefined && squares !== undefined)
        data.baselines[c.name] = { sd: Math.sqrt(Math.max(0, (squares - (sum * sum) / n) / (n - 1))) };
    }
  }
  return data;
}

/** The seed's business value model on the rollout's totals: accuracy and error rate in points, latency in ms. */
export function impactFromTotals(
  stable: VersionTotals,
  canary: VersionTotals,
  coefficients: NonNullable<ModelRollout['spec']['analysis']['business']>,
  alpha: number,
): BusinessImpact {
  const points = (x: number, n: number) => ({ p: x / n, se: 100 * Math.sqrt(((x / n) * (1 - x / n)) / n) });
  const [as, ac] = [points(stable.correct, stable.labelled), points(canary.correct, canary.labelled)];
  const [es, ec] = [points(stable.errors, stable.requests), points(canary.errors, canary.requests)];
  return businessImpact(
    coefficients,
    {
      accuracyPoints: { estimate: 100 * (ac.p - as.p), se: Math.hypot(as.se, ac.se) },
      latencyMs: {
        estimate: canary.meanLatencyMs - stable.meanLatencyMs,
        se: Math.hypot(stable.latencySeMs, canary.latencySeMs),
      },
      errorRatePoints: { estimate: 100 * (ec.p - es.p), se: Math.hypot(es.se, ec.se) },
    },
    alpha,
    coefficients.materialValue,
  );
}
