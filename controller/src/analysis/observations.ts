// What one evaluation asks Prometheus, and what the answers mean: the query
// plan for a rollout's metrics, and the observations built from the results.
// Missing or empty data stays undefined ("nodata"); it never counts as a pass.
import { candidateVersions, isPaired, type Comparison, type ModelRolloutSpec } from '../api/schema.js';
import type { PairedProportionTable } from '../stats/mcnemar.js';
import { momentsFromSums, type Moments } from '../stats/moments-from-sums.js';
import type { PairedDifferences } from '../stats/paired-mean.js';
import type { ProportionSample } from '../stats/two-proportion-z-test.js';
import { renderQuery, type TemplateVariables } from './template.js';

export type Arm = 'stable' | 'canary';

/** One query to run: a scalar, or (kind 'buckets') a vector with one sample per `le`. */
export interface PlannedQuery {
  key: string;
  kind: 'scalar' | 'buckets';
  query: string;
}

/** A query's answer: a number, bucket counts by `le`, or undefined for no data. */
export type QueryResult = number | { le: number; value: number }[] | undefined;

export interface GuardrailObservation {
  name: string;
  canary: number | undefined;
  stable: number | undefined;
}

export type ComparisonObservation =
  | { name: string; type: 'proportion'; stable?: ProportionSample; canary?: ProportionSample }
  | { name: string; type: 'mean'; stable?: Moments; canary?: Moments }
  | { name: string; type: 'histogram'; bounds?: number[]; stable?: number[]; canary?: number[] }
  | { name: string; type: 'paired-proportion'; table?: PairedProportionTable }
  | { name: string; type: 'paired-mean'; differences?: PairedDifferences };

/** What the engine judges a stage on: samples per version, each guardrail's values, each comparison's counts. */
export interface Observations {
  samples: { stable: number | undefined; canary: number | undefined };
  guardrails: GuardrailObservation[];
  comparisons: ComparisonObservation[];
  /** An experiment's (strategy.experiment): every version's samples, and its observations against others. */
  experiment?: ExperimentObservations;
}

/**
 * An experiment's observations. Each pair holds two versions' numbers in the
 * two-arm form the rest of the engine reads: `reference` as 'stable', `version`
 * as 'canary'. There is a pair for each candidate against the control, and for
 * each two candidates (the earlier one as reference).
 */
export interface ExperimentObservations {
  /** Requests each version served in the window, by version. */
  samples: Record<string, number | undefined>;
  pairs: { reference: string; version: string; observations: Observations }[];
}

/** The versions of an experiment: the control (stable) first, then the canary and the other candidates. */
export function experimentVersions(spec: ModelRolloutSpec): string[] {
  return [spec.stable.version, ...candidateVersions(spec)];
}

export interface PlanContext {
  namespace: string;
  /** What the queries cover: the stage after its warm-up (the whole stage so far while it warms up). */
  window: string;
  /** The stage is in its warm-up: only guardrails are asked (their absolute bounds act at once). */
  warming?: boolean;
}

/** The version the canary is judged against: the baseline when the spec has one, else stable. */
function referenceVersion(spec: ModelRolloutSpec): string {
  return (spec.baseline ?? spec.stable).version;
}

function variables(spec: ModelRolloutSpec, arm: Arm, namespace: string, window: string): TemplateVariables {
  return {
    version: arm === 'canary' ? spec.canary.version : referenceVersion(spec),
    stable: spec.stable.version,
    canary: spec.canary.version,
    namespace,
    window,
    model: spec.model,
  };
}

function comparisonQueries(comparison: Comparison): [string, string][] {
  switch (comparison.type) {
    case 'proportion':
      return [
        ['successes', comparison.successes],
        ['trials', comparison.trials],
      ];
    case 'mean':
    case 'paired-mean':
      return [
        ['count', comparison.count],
        ['sum', comparison.sum],
        ['sumOfSquares', comparison.sumOfSquares],
      ];
    case 'histogram':
      return [['buckets', comparison.buckets]];
    case 'paired-proportion':
      return [
        ['canaryOnly', comparison.canaryOnly],
        ['stableOnly', comparison.stableOnly],
        ['pairs', comparison.pairs],
      ];
  }
}

/**
 * Every query one evaluation needs, for the canary and the version it is judged
 * against (stable, or the baseline). Keys are stable across evaluations: the
 * 'stable' arm is the reference arm whichever version that is.
 */
export function planQueries(spec: ModelRolloutSpec, context: PlanContext): PlannedQuery[] {
  const plan: PlannedQuery[] = [];
  // An experiment asks the same of every version, keyed by version ("@v2"); a rollout, of its two arms.
  const arms = spec.strategy.experiment
    ? experimentVersions(spec).map((v) => `@${v}`)
    : (['stable', 'canary'] as const);
  for (const arm of arms) {
    const vars: TemplateVariables = arm.startsWith('@')
      ? { ...variables(spec, 'canary', context.namespace, context.window), version: arm.slice(1), canary: arm.slice(1) }
      : variables(spec, arm as Arm, context.namespace, context.window);
    spec.analysis.guardrails.forEach((g, i) => {
      plan.push({
        key: `guardrail/${g.name}/${arm}`,
        kind: 'scalar',
        query: renderQuery(g.query, vars, `spec.analysis.guardrails[${i}].query`),
      });
    });
    if (context.warming) continue;
    plan.push({
      key: `samples/${arm}`,
      kind: 'scalar',
      query: renderQuery(spec.analysis.samples, vars, 'spec.analysis.samples'),
    });
    spec.analysis.comparisons.forEach((c, i) => {
      // A paired comparison's queries name both versions ({{canary}}, {{stable}}): asked once, as the canary's.
      if (isPaired(c) && arm === 'stable') return;
      for (const [part, template] of comparisonQueries(c)) {
        plan.push({
          key: `comparison/${c.name}/${part}/${arm}`,
          kind: part === 'buckets' ? 'buckets' : 'scalar',
          query: renderQuery(template, vars, `spec.analysis.comparisons[${i}].${part}`),
        });
      }
    });
  }
  return plan;
}

/** One version's counts, as an experiment's queries would return them: requests, a guardrail value, and proportions by comparison name. */
export interface VersionCounts {
  requests: number;
  /** Every guardrail's value (none when absent). */
  guardrail?: number;
  /** [successes, trials] of each proportion comparison. */
  proportions?: Record<string, [number, number]>;
}

/**
 * Query results for an experiment, keyed as planQueries keys them
 * ("samples/@v2", "guardrail/NAME/@v2", "comparison/NAME/PART/@v2"), from
 * counts per version: the inverse of observe(), for the simulation and tests.
 */
export function experimentResults(
  spec: ModelRolloutSpec,
  counts: Record<string, VersionCounts>,
): Map<string, QueryResult> {
  const results = new Map<string, QueryResult>();
  for (const { key } of planQueries(spec, { namespace: 'sim', window: '1m' })) {
    const arm = counts[key.slice(key.lastIndexOf('/@') + 2)];
    if (!arm) continue;
    const [kind, name, part] = key.split('/');
    const proportion = arm.proportions?.[name!];
    if (kind === 'samples') results.set(key, arm.requests);
    else if (kind === 'guardrail' && arm.guardrail !== undefined) results.set(key, arm.guardrail);
    else if (kind === 'comparison' && proportion && (part === 'successes' || part === 'trials'))
      results.set(key, part === 'successes' ? proportion[0] : proportion[1]);
  }
  return results;
}

const scalar = (results: Map<string, QueryResult>, key: string): number | undefined => {
  const value = results.get(key);
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
};

/** A count from increase() (which extrapolates, so it arrives fractional): rounded, within 0..max. */
const countWithin = (value: number, max: number) => Math.min(max, Math.max(0, Math.round(value)));

/** Successes and trials, rounded, with successes ≤ trials; undefined without trials. */
function proportion(successes: number | undefined, trials: number | undefined): ProportionSample | undefined {
  if (successes === undefined || trials === undefined) return undefined;
  const n = Math.round(trials);
  if (n < 1) return undefined;
  return { successes: countWithin(successes, n), trials: n };
}

/** Discordant counts and pairs, rounded, with the discordant ones bounded by the pairs; undefined without pairs. */
function pairedTable(
  canaryOnly: number | undefined,
  stableOnly: number | undefined,
  pairs: number | undefined,
): PairedProportionTable | undefined {
  if (canaryOnly === undefined || stableOnly === undefined || pairs === undefined) return undefined;
  const n = Math.round(pairs);
  if (n < 1) return undefined;
  const b = countWithin(canaryOnly, n);
  const c = countWithin(stableOnly, n - b);
  return { canaryOnly: b, stableOnly: c, pairs: n };
}

/** increase() extrapolates: the count is rounded and the sums scaled to it; undefined without data or below 2. */
function scaledSums(
  count: number | undefined,
  sum: number | undefined,
  squares: number | undefined,
): PairedDifferences | undefined {
  if (count === undefined || sum === undefined || squares === undefined) return undefined;
  const n = Math.round(count);
  if (n < 2) return undefined;
  return { n, sum: sum * (n / count), sumOfSquares: squares * (n / count) };
}

function moments(count: number | undefined, sum: number | undefined, squares: number | undefined): Moments | undefined {
  const sums = scaledSums(count, sum, squares);
  return sums && momentsFromSums(sums.n, sums.sum, sums.sumOfSquares);
}

/** Bucket bounds and cumulative counts (rounded, forced non-decreasing), or undefined without data. */
function buckets(result: QueryResult): { bounds: number[]; counts: number[] } | undefined {
  if (!Array.isArray(result) || result.length === 0) return undefined;
  const sorted = [...result].sort((a, b) => a.le - b.le);
  if (sorted.at(-1)!.le !== Infinity) return undefined;
  let running = 0;
  const counts = sorted.map((b) => (running = Math.max(running, Math.round(b.value))));
  if (counts.at(-1)! <= 0) return undefined;
  return { bounds: sorted.map((b) => b.le), counts };
}

/** Builds observations from query results keyed as in `planQueries`. */
export function observe(spec: ModelRolloutSpec, results: Map<string, QueryResult>): Observations {
  if (!spec.strategy.experiment) return observePair(spec, results);
  const versions = experimentVersions(spec);
  // Two versions' results under the two-arm keys: `reference` as stable, `version` as canary.
  const pair = (reference: string, version: string): Observations => {
    const keyed = new Map<string, QueryResult>();
    for (const [key, value] of results) {
      if (key.endsWith(`/@${reference}`)) keyed.set(`${key.slice(0, -reference.length - 2)}/stable`, value);
      if (key.endsWith(`/@${version}`)) keyed.set(`${key.slice(0, -version.length - 2)}/canary`, value);
    }
    return observePair(spec, keyed);
  };
  const pairs: ExperimentObservations['pairs'] = [];
  versions.forEach((reference, i) => {
    for (const version of versions.slice(i + 1))
      pairs.push({ reference, version, observations: pair(reference, version) });
  });
  const control = pairs[0]!.observations;
  return {
    ...control,
    experiment: {
      samples: Object.fromEntries(versions.map((v) => [v, scalar(results, `samples/@${v}`)])),
      pairs,
    },
  };
}

function observePair(spec: ModelRolloutSpec, results: Map<string, QueryResult>): Observations {
  const comparisons = spec.analysis.comparisons.map((c): ComparisonObservation => {
    const get = (part: string, arm: Arm) => scalar(results, `comparison/${c.name}/${part}/${arm}`);
    switch (c.type) {
      case 'proportion':
        return {
          name: c.name,
          type: 'proportion',
          stable: proportion(get('successes', 'stable'), get('trials', 'stable')),
          canary: proportion(get('successes', 'canary'), get('trials', 'canary')),
        };
      case 'mean':
        return {
          name: c.name,
          type: 'mean',
          stable: moments(get('count', 'stable'), get('sum', 'stable'), get('sumOfSquares', 'stable')),
          canary: moments(get('count', 'canary'), get('sum', 'canary'), get('sumOfSquares', 'canary')),
        };
      case 'histogram': {
        const s = buckets(results.get(`comparison/${c.name}/buckets/stable`));
        const k = buckets(results.get(`comparison/${c.name}/buckets/canary`));
        // Both histograms must share bucket bounds to be compared.
        if (!s || !k || s.bounds.length !== k.bounds.length || s.bounds.some((b, i) => b !== k.bounds[i]))
          return { name: c.name, type: 'histogram' };
        return { name: c.name, type: 'histogram', bounds: s.bounds, stable: s.counts, canary: k.counts };
      }
      case 'paired-proportion':
        return {
          name: c.name,
          type: 'paired-proportion',
          table: pairedTable(get('canaryOnly', 'canary'), get('stableOnly', 'canary'), get('pairs', 'canary')),
        };
      case 'paired-mean': {
        const sums = scaledSums(get('count', 'canary'), get('sum', 'canary'), get('sumOfSquares', 'canary'));
        return { name: c.name, type: 'paired-mean', differences: sums && sums.sumOfSquares >= 0 ? sums : undefined };
      }
    }
  });
  return {
    samples: { stable: scalar(results, 'samples/stable'), canary: scalar(results, 'samples/canary') },
    guardrails: spec.analysis.guardrails.map((g) => ({
      name: g.name,
      canary: scalar(results, `guardrail/${g.name}/canary`),
      stable: scalar(results, `guardrail/${g.name}/stable`),
    })),
    comparisons,
  };
}
