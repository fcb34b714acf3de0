// The PromQL the dashboards draw: per-version accuracy with its band, error rate,
// latency quantiles, cache hits, business value, and the selectors every panel
// filters by. One query style for both dashboards.
import { PREDICTOR_FEEDBACK } from '../../../shared/metric-names.js';

export interface PanelTarget {
  expr: string;
  legendFormat: string;
  /** Instant query (tables, stats). */
  instant?: boolean;
}

/** Accuracy per version over 5 minutes of ground truth, and its normal-approximation 95% band. */
export function accuracyTargets(selector: string): PanelTarget[] {
  const correct = `sum by (version) (increase(${PREDICTOR_FEEDBACK}{${selector},outcome="correct"}[5m]))`;
  const labelled = `sum by (version) (increase(${PREDICTOR_FEEDBACK}{${selector}}[5m]))`;
  const p = `(${correct} / ${labelled})`;
  const half = `1.96 * sqrt(${p} * (1 - ${p}) / ${labelled})`;
  return [
    { expr: p, legendFormat: '{{version}}' },
    { expr: `${p} - ${half}`, legendFormat: '{{version}} lower 95%' },
    { expr: `${p} + ${half}`, legendFormat: '{{version}} upper 95%' },
  ];
}

/** The band's edges ("... lower 95%", "... upper 95%") are thin dashed lines, out of the legend. */
export const BAND_OVERRIDES = [
  {
    matcher: { id: 'byRegexp', options: '.* (lower|upper) 95%' },
    properties: [
      { id: 'custom.lineWidth', value: 1 },
      { id: 'custom.lineStyle', value: { fill: 'dash', dash: [4, 4] } },
      { id: 'custom.hideFrom', value: { legend: true, tooltip: false, viz: false } },
    ],
  },
];

export function businessValueTarget(selector: string): PanelTarget {
  const sum = (metric: string) =>
    `sum by (version) (increase(weir_predictor_business_value_${metric}{${selector}}[5m]))`;
  return {
    expr: `(${sum('gains_sum_total')} - ${sum('losses_sum_total')}) / ${sum('samples_total')}`,
    legendFormat: '{{version}}',
  };
}

/** A counter that may not exist yet (nothing counted) as 0 for every series `like` has. */
export const orZero = (expr: string, like: string) => `(${expr} or 0 * ${like})`;

/** Error share by version; versions with no errors show 0 rather than no line. */
export function errorRateTarget(metric: string, byLabel: string, selector: string, errorMatcher: string): PanelTarget {
  const rate = (extra: string) => `sum by (${byLabel}) (rate(${metric}{${selector}${extra}}[$__rate_interval]))`;
  return { expr: `${orZero(rate(`,${errorMatcher}`), rate(''))} / ${rate('')}`, legendFormat: `{{${byLabel}}}` };
}

/** Cache hits over lookups by version; a version with no hit yet shows 0. */
export function cacheHitTarget(selector: string): PanelTarget {
  const rate = (metric: string) =>
    `sum by (version) (rate(weir_predictor_cache_${metric}_total{${selector}}[$__rate_interval]))`;
  const hits = orZero(rate('hits'), rate('misses'));
  return { expr: `${hits} / (${hits} + ${orZero(rate('misses'), rate('hits'))})`, legendFormat: '{{version}}' };
}

export function latencyTargets(bucket: string, byLabel: string, selector: string): PanelTarget[] {
  return [0.5, 0.95, 0.99].map((q) => ({
    expr: `histogram_quantile(${q}, sum by (${byLabel}, le) (rate(${bucket}{${selector}}[$__rate_interval])))`,
    legendFormat: `{{${byLabel}}} p${Math.round(q * 100)}`,
  }));
}

export const ROLLOUT = 'rollout=~"$rollout"';
export const ISTIO = 'destination_service_namespace=~"$namespace",request_mirrored!="true"';
export const PREDICTOR = 'namespace=~"$namespace",model=~"$model"';
