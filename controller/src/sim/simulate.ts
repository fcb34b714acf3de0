// The rollout simulation: weir's engine and two baselines (a naive fixed-horizon
// test repeated every interval, and a Flagger-style threshold check) run on the
// same synthetic streams, scenario by scenario, thousands of times.
import { specSchema, emptyStatus, type ModelRolloutSpec } from '../api/schema.js';
import { judgeGuardrail } from '../analysis/guardrail.js';
import type { Observations } from '../analysis/observations.js';
import { decide } from '../engine/decide.js';
import { warmupMs, warmupState } from '../engine/stages.js';
import { mannWhitneyHistogram } from '../stats/mann-whitney-histogram.js';
import { twoProportionZTest } from '../stats/two-proportion-z-test.js';
import {
  LATENCY_BOUNDS,
  StreamGenerator,
  addCounts,
  cumulative,
  emptyCounts,
  histogramQuantile,
  type ArmCounts,
  type Scenario,
} from './streams.js';

export const INTERVAL_MS = 30_000;
/** Request rates the simulation runs at (req/s): a quiet model and a busy one. */
export const RATES = [20, 200] as const;
const requestsPerInterval = (rate: number) => rate * (INTERVAL_MS / 1000);
const T0 = Date.parse('2026-01-01T00:00:00Z');

export const SIM_SPEC: ModelRolloutSpec = specSchema.parse({
  model: 'price-direction',
  virtualService: { name: 'predictor', route: 'primary' },
  stable: { version: 'v1' },
  canary: { version: 'v2' },
  strategy: {
    steps: [10, 25, 50, 100],
    minStageDuration: '2m',
    minSamplesPerStage: 200,
    maxDuration: '1h',
    onInconclusive: 'rollback',
  },
  analysis: {
    interval: '30s',
    alpha: 0.05,
    sequential: 'msprt',
    guardrails: [
      { name: 'error-rate', query: 'q', max: 0.01, failureLimit: 2 },
      { name: 'p95-latency', query: 'q', maxRatio: 1.5, failureLimit: 2 },
    ],
    comparisons: [
      {
        name: 'accuracy',
        type: 'proportion',
        role: 'primary',
        better: 'higher',
        minEffect: 0.01,
        tau: 0.03,
        successes: 's',
        trials: 't',
      },
      { name: 'latency', type: 'histogram', role: 'guard', better: 'lower', minEffect: 0.05, buckets: 'b' },
    ],
  },
});

const MAX_INTERVALS = 120; // maxDuration 1h at 30 s

export type Outcome = 'promoted' | 'rolled-back' | 'inconclusive';
export interface RunResult {
  outcome: Outcome;
  /** Intervals until the outcome. */
  intervals: number;
  /** The stage index the outcome happened at (0 is the first step). */
  stage: number;
  /** Share of all requests the canary answered until the outcome. */
  exposure: number;
  /** What rolled it back: a guardrail's or comparison's name (weir only). */
  cause?: string;
}

export type Policy = 'weir' | 'weir-obrien-fleming' | 'naive' | 'flagger';

function observationsFrom(counts: { stable: ArmCounts; canary: ArmCounts }): Observations {
  const arm = (c: ArmCounts) => ({
    errorRate: c.requests > 0 ? c.errors / c.requests : undefined,
    p95: histogramQuantile(0.95, LATENCY_BOUNDS, c.latency),
  });
  const s = arm(counts.stable);
  const k = arm(counts.canary);
  return {
    samples: { stable: counts.stable.requests, canary: counts.canary.requests },
    guardrails: [
      { name: 'error-rate', canary: k.errorRate, stable: s.errorRate },
      { name: 'p95-latency', canary: k.p95, stable: s.p95 },
    ],
    comparisons: [
      {
        name: 'accuracy',
        type: 'proportion',
        stable:
          counts.stable.requests > 0 ? { successes: counts.stable.correct, trials: counts.stable.requests } : undefined,
        canary:
          counts.canary.requests > 0 ? { successes: counts.canary.correct, trials: counts.canary.requests } : undefined,
      },
      counts.stable.requests > 0 && counts.canary.requests > 0
        ? {
            name: 'latency',
            type: 'histogram',
            bounds: LATENCY_BOUNDS,
            stable: cumulative(counts.stable.latency),
            canary: cumulative(counts.canary.latency),
          }
        : { name: 'latency', type: 'histogram' },
    ],
  };
}

/** Requests served per version over a run, for the exposure. */
class Served {
  canary = 0;
  total = 0;
  add(split: { stable: number; canary: number }): void {
    this.canary += split.canary;
    this.total += split.stable + split.canary;
  }
  get share(): number {
    return this.total === 0 ? 0 : this.canary / this.total;
  }
}

/**
 * weir: the real engine, fed every interval what Prometheus would answer: in a
 * stage's warm-up the counts so far (only guardrails are judged then); after
 * it, the counts since the warm-up ended, as the reconciler's window asks.
 */
function runWeir(scenario: Scenario, seed: number, rate: number, spec = SIM_SPEC): RunResult {
  const streams = new StreamGenerator(seed);
  const warmup = warmupMs(spec);
  const served = new Served();
  let status = emptyStatus();
  let stageStart = 0;
  let all = { stable: emptyCounts(), canary: emptyCounts() };
  let judged = { stable: emptyCounts(), canary: emptyCounts() };
  for (let t = 0; t <= MAX_INTERVALS + 1; t++) {
    const { warming } = warmupState(warmup, (t - stageStart) * INTERVAL_MS);
    const decision = decide({
      spec,
      status,
      observations: observationsFrom(warming ? all : judged),
      commands: [],
      now: T0 + t * INTERVAL_MS,
    });
    if (decision.stage !== status.stage) {
      stageStart = t;
      all = { stable: emptyCounts(), canary: emptyCounts() };
      judged = { stable: emptyCounts(), canary: emptyCounts() };
    }
    status = decision.statusPatch;
    const cause = rollbackCauseOf(status.message);
    const result = (outcome: Outcome): RunResult => ({
      outcome,
      intervals: t,
      stage: decision.stage,
      exposure: served.share,
      ...(outcome === 'rolled-back' && cause ? { cause } : {}),
    });
    if (decision.canaryWeight === 100) return result('promoted');
    if (decision.action === 'rollback')
      return result(status.message?.includes('maxDuration') ? 'inconclusive' : 'rolled-back');
    const split = streams.split(requestsPerInterval(rate), decision.canaryWeight);
    served.add(split);
    const stable = streams.interval(scenario.stable, split.stable);
    const canary = streams.interval(scenario.canary, split.canary);
    addCounts(all.stable, stable);
    addCounts(all.canary, canary);
    // This interval is judged once it lies wholly after the warm-up.
    if (!warmupState(warmup, (t - stageStart) * INTERVAL_MS).warming) {
      addCounts(judged.stable, stable);
      addCounts(judged.canary, canary);
    }
  }
  return { outcome: 'inconclusive', intervals: MAX_INTERVALS, stage: status.stage, exposure: served.share };
}

/**
 * naive: the same stages, gates and guardrails, but every interval it runs the
 * fixed-horizon two-proportion z-test and Mann–Whitney test on the stage's data
 * so far and acts on p < alpha: the peeking that inflates false positives.
 */
function runNaive(scenario: Scenario, seed: number, rate: number): RunResult {
  const spec = SIM_SPEC;
  const streams = new StreamGenerator(seed);
  const served = new Served();
  const result = (outcome: Outcome, t: number): RunResult => ({ outcome, intervals: t, stage, exposure: served.share });
  const steps = spec.strategy.steps;
  const alpha = spec.analysis.alpha;
  let stage = 0;
  let stageStart = 0;
  let failures: Record<string, number> = {};
  let counts = { stable: emptyCounts(), canary: emptyCounts() };
  for (let t = 1; t <= MAX_INTERVALS; t++) {
    const split = streams.split(requestsPerInterval(rate), steps[stage]!);
    served.add(split);
    addCounts(counts.stable, streams.interval(scenario.stable, split.stable));
    addCounts(counts.canary, streams.interval(scenario.canary, split.canary));
    const o = observationsFrom(counts);
    for (const g of spec.analysis.guardrails) {
      const v = judgeGuardrail(
        g,
        o.guardrails.find((x) => x.name === g.name)!,
      ).verdict;
      failures[g.name] =
        v === 'high' || v === 'low' ? (failures[g.name] ?? 0) + 1 : v === 'pass' ? 0 : (failures[g.name] ?? 0);
      if (failures[g.name]! >= g.failureLimit) return result('rolled-back', t);
    }
    const acc = twoProportionZTest(
      { successes: counts.stable.correct, trials: counts.stable.requests },
      { successes: counts.canary.correct, trials: counts.canary.requests },
      alpha,
    );
    if (acc.pValue < alpha && acc.difference < -0.01) return result('rolled-back', t);
    const lat = mannWhitneyHistogram(
      LATENCY_BOUNDS,
      { cumulative: cumulative(counts.stable.latency) },
      { cumulative: cumulative(counts.canary.latency) },
    );
    if (lat.pValue < alpha && lat.probabilityCanaryHigher - 0.5 > 0.05) return result('rolled-back', t);
    const enoughTime = (t - stageStart) * INTERVAL_MS >= 120_000;
    const enoughSamples = counts.stable.requests >= 200 && counts.canary.requests >= 200;
    const needsProof = steps[stage + 1] === 100;
    const proven = acc.pValue < alpha && acc.difference >= 0.01;
    if (enoughTime && enoughSamples && (!needsProof || proven)) {
      stage++;
      if (steps[stage] === 100) return result('promoted', t);
      stageStart = t;
      failures = {};
      counts = { stable: emptyCounts(), canary: emptyCounts() };
    }
  }
  return result('inconclusive', MAX_INTERVALS);
}

/**
 * Flagger-style: each interval, the canary's metrics over that interval are
 * compared with fixed thresholds (accuracy ≥ 0.58, error rate ≤ 1%, p95 ≤ 10 ms);
 * two failed checks roll back, four passing intervals advance a step.
 */
function runFlagger(scenario: Scenario, seed: number, rate: number): RunResult {
  const streams = new StreamGenerator(seed);
  const steps = SIM_SPEC.strategy.steps;
  const served = new Served();
  let stage = 0;
  const result = (outcome: Outcome, t: number): RunResult => ({ outcome, intervals: t, stage, exposure: served.share });
  let passed = 0;
  let failed = 0;
  for (let t = 1; t <= MAX_INTERVALS; t++) {
    const split = streams.split(requestsPerInterval(rate), steps[stage]!);
    served.add(split);
    streams.interval(scenario.stable, split.stable);
    const c = streams.interval(scenario.canary, split.canary);
    const p95 = histogramQuantile(0.95, LATENCY_BOUNDS, c.latency);
    const ok =
      c.requests > 0 &&
      c.correct / c.requests >= 0.58 &&
      c.errors / c.requests <= 0.01 &&
      p95 !== undefined &&
      p95 <= 0.01;
    if (!ok) {
      if (++failed >= 2) return result('rolled-back', t);
      continue;
    }
    if (++passed >= 4) {
      stage++;
      passed = 0;
      if (steps[stage] === 100) return result('promoted', t);
    }
  }
  return result('inconclusive', MAX_INTERVALS);
}

const OBF_SPEC: ModelRolloutSpec = { ...SIM_SPEC, analysis: { ...SIM_SPEC.analysis, sequential: 'obrien-fleming' } };

export function runOnce(policy: Policy, scenario: Scenario, seed: number, rate: number = RATES[0]): RunResult {
  if (policy === 'weir') return runWeir(scenario, seed, rate);
  if (policy === 'weir-obrien-fleming') return runWeir(scenario, seed, rate, OBF_SPEC);
  if (policy === 'naive') return runNaive(scenario, seed, rate);
  return runFlagger(scenario, seed, rate);
}

export interface ScenarioReport {
  scenario: string;
  policy: Policy;
  /** Requests per second reaching the model. */
  rate: number;
  runs: number;
  promotedRate: number;
  rolledBackRate: number;
  inconclusiveRate: number;
  /** Promotions of an equal or worse canary. */
  falsePromotionRate?: number;
  /** Evidence-based rollbacks of an equal or better canary. */
  falseRollbackRate?: number;
  /** For bad canaries: runs rolled back (on evidence, not at maxDuration) while at the first stage. */
  caughtAtFirstStageRate?: number;
  /** For bad canaries: the share of requests the canary answered before its outcome, mean over runs. */
  meanExposure?: number;
  /** For bad canaries: intervals (30 s) until rolled back, over the runs that were. */
  medianIntervalsToRollback?: number;
  /** What rolled the canary back, in how many runs (weir policies only). */
  rollbackCauses?: Record<string, number>;
  /** For good canaries: minutes until the canary reached 100%, over the runs that did. */
  medianMinutesToPromote?: number;
}

/** What a rollback's summary names as its cause: the guardrail's or comparison's name. */
export function rollbackCauseOf(summary: string | undefined): string | undefined {
  return /rolled back: (?:guardrail )?([\w-]+)/.exec(summary ?? '')?.[1];
}

/** The lower median; undefined for no values. */
export function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/** Runs a scenario many times under a decision rule at `rate` req/s and reports how often it promoted, rolled back, or ran out of time. */
export function simulateScenario(
  policy: Policy,
  scenario: Scenario,
  runs: number,
  seed = 1,
  rate: number = RATES[0],
): ScenarioReport {
  const results = Array.from({ length: runs }, (_, i) => runOnce(policy, scenario, seed * 1_000_003 + i, rate));
  const share = (o: Outcome) => results.filter((r) => r.outcome === o).length / runs;
  const report: ScenarioReport = {
    scenario: scenario.name,
    policy,
    rate,
    runs,
    promotedRate: share('promoted'),
    rolledBackRate: share('rolled-back'),
    inconclusiveRate: share('inconclusive'),
  };
  const causes: Record<string, number> = {};
  for (const r of results) if (r.cause) causes[r.cause] = (causes[r.cause] ?? 0) + 1;
  if (Object.keys(causes).length > 0) report.rollbackCauses = causes;
  if (!scenario.canaryIsGood) report.falsePromotionRate = report.promotedRate;
  if (!scenario.canaryIsBad) report.falseRollbackRate = report.rolledBackRate;
  if (scenario.canaryIsBad) {
    report.caughtAtFirstStageRate = results.filter((r) => r.outcome === 'rolled-back' && r.stage === 0).length / runs;
    report.meanExposure = results.reduce((sum, r) => sum + r.exposure, 0) / runs;
    const m = median(results.filter((r) => r.outcome === 'rolled-back').map((r) => r.intervals));
    if (m !== undefined) report.medianIntervalsToRollback = m;
  }
  if (scenario.canaryIsGood) {
    const m = median(results.filter((r) => r.outcome === 'promoted').map((r) => (r.intervals * INTERVAL_MS) / 60_000));
    if (m !== undefined) report.medianMinutesToPromote = m;
  }
  return report;
}
