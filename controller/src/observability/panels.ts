// Grafana's JSON model for weir's dashboards: panels laid out on the grid, the
// shared variables (datasource, namespace, model, rollout), and the dashboard
// itself; and reading every query back out of one (for the tests).
import type { PanelTarget } from './promql.js';

export const DS = { type: 'prometheus', uid: '${datasource}' };

export interface PanelSpec {
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

export function panels(specs: PanelSpec[]): unknown[] {
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

export function variable(name: string, label: string, query: string) {
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

/** A whole Grafana dashboard: variables, panels laid out on the grid, and stage annotations. */
export function dashboard(uid: string, title: string, description: string, variables: unknown[], specs: PanelSpec[]) {
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

/** Every PromQL expression in a dashboard: panel targets, variable queries and annotations. */
export function dashboardQueries(
  board: ReturnType<typeof dashboard>,
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
  board: ReturnType<typeof dashboard>,
): { where: string; expr: string; label: string }[] {
  return (board.templating.list as { name: string; definition?: string }[])
    .filter((v) => v.definition)
    .map((v) => {
      const m = /^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$/.exec(v.definition!);
      if (!m) throw new Error(`variable ${v.name}: "${v.definition}" is not label_values(selector, label)`);
      return { where: `variable $${v.name}`, expr: m[1]!, label: m[2]! };
    });
}
