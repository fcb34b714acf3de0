// weir's two Grafana dashboards, built from code so every panel follows the same
// rules: the same variables (datasource, namespace, model, rollout), one query
// style (promql.ts), and no panel without a query. `weir generate dashboards`
// writes dashboards/*.json; a test checks that the files are current, that every
// query parses as PromQL, and (in the local end-to-end run) that every query
// returns data.
import { predictorsDashboard } from './predictors-dashboard.js';
import { rolloutsDashboard } from './rollouts-dashboard.js';

export { dashboardQueries, variableSelectors } from './panels.js';
export { predictorsDashboard, rolloutsDashboard };

/** Every dashboard weir ships, by file name under dashboards/. */
export const DASHBOARDS = { 'rollouts.json': rolloutsDashboard, 'predictors.json': predictorsDashboard };
