// What an experiment report needs besides the stored rollout: from Prometheus,
// each model metric and the business value per version over consecutive,
// non-overlapping analysis windows (for the time series and the correlation),
// and the totals over the whole rollout (for the business impact and the
// baselines of the sample-size plan). Without Prometheus the report still has
// the design, the timeline and every verdict; it says what it left out.
import { parseDuration } from '../../../shared/duration.js';
import { isFinished, type ModelRollout } from '../api/schema.js';
import { renderQuery, type TemplateVariables } from '../analysis/template.js';
import type { PrometheusMetrics } from '../providers/prometheus/provider.js';
import { impactFromTotals, type VersionTotals } from '../analysis/impact.js';
import type { BusinessImpact } from '../stats/business-impact.js';
import { collectTotals, scalarAt } from './totals.js';

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

/** When a rollout started and ended (or now, while it runs), in whole seconds since the epoch. */
export function spanOf(rollout: ModelRollout, now: number): { start: number; end: number } {
  const status = rollout.status!;
  const history = status.history;
  const startMs = Date.parse(status.startedAt ?? history[0]?.at ?? new Date(now).toISOString());
  const endMs = isFinished(status.phase) && history.length > 0 ? Date.parse(history.at(-1)!.at) : now;
  return { start: Math.floor(startMs / 1000), end: Math.max(Math.floor(startMs / 1000) + 1, Math.ceil(endMs / 1000)) };
}

/** Everything a report needs besides the stored rollout, from Prometheus (see the module comment); without Prometheus, notes what it left out. */
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
  // One window is one point per version: too few to draw a series or to correlate.
  if (length >= 2 * windowSeconds) {
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
  } else
    data.notes.push(
      `The rollout ran ${length} s, shorter than two ${windowSeconds} s windows: no metrics over time and no correlation with business value.`,
    );
  data.windows = [...points.values()].sort(
    (a, b) => a.end - b.end || versions.indexOf(a.version) - versions.indexOf(b.version),
  );
  if (length >= 2 * windowSeconds && data.windows.length === 0 && failed.size === 0)
    data.notes.push(
      `Prometheus had no data in any ${windowSeconds} s window of the rollout: no metrics over time and no correlation with business value.`,
    );

  // Totals over the whole rollout, evaluated at its end.
  const whole = `${length}s`;
  const at = (query: string, what: string) =>
    scalarAt(prom, query, span.end).catch((err: unknown) => (note(what, err), undefined));
  const totals = await collectTotals(prom, rollout, span);
  for (const failure of totals.failures) note(failure.what, failure.err);
  data.totals = totals.totals;
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
