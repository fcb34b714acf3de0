// The A/B/n simulation: weir's own decide() on an experiment over three
// versions (v1 the control, v2 and v3 the candidates) fed seeded traffic. The
// route's weights split each interval's requests (a multinomial draw), every
// prediction is labelled, and the stage window's counts reach the engine the way
// planQueries and observe() build them. With all three equal, every winner is a
// false one: the rate must stay within alpha, however often weir looks.
import { specSchema, type ModelRolloutSpec } from '../api/schema.js';
import { experimentResults, observe } from '../analysis/observations.js';
import { decide } from '../engine/decide.js';
import { warmupMs } from '../engine/stages.js';
import { parseDuration } from '../../../shared/duration.js';
import { emptyStatus } from '../api/schema.js';
import { median } from './simulate.js';
import { StreamGenerator } from './streams.js';

export const ABN_INTERVAL_MS = 30_000;

/** The experiment: the seed model's accuracy comparison as the primary one, minEffect 0.01, mSPRT, no approval. */
export const ABN_SPEC: ModelRolloutSpec = specSchema.parse({
  model: 'price-direction',
  virtualService: { name: 'predictor', route: 'primary' },
  stable: { version: 'v1' },
  canary: { version: 'v2' },
  candidates: [{ version: 'v3' }],
  strategy: {
    experiment: { type: 'abn' },
    minStageDuration: '5m',
    minSamplesPerStage: 1000,
    maxDuration: '2h',
    onInconclusive: 'rollback',
  },
  analysis: {
    interval: '30s',
    alpha: 0.05,
    comparisons: [
      { name: 'accuracy', type: 'proportion', role: 'primary', minEffect: 0.01, successes: 's', trials: 't' },
    ],
  },
});

/** The cells: all equal (every winner is false), and v2 six points better than the others (power). */
export const ABN_SCENARIOS = [
  { name: 'all-equal', accuracy: { v1: 0.6, v2: 0.6, v3: 0.6 } },
  { name: 'v2-better', accuracy: { v1: 0.6, v2: 0.66, v3: 0.6 } },
] as const;

export interface AbnRun {
  outcome: 'winner' | 'rolled-back' | 'other';
  winner?: string;
  minutes: number;
}

/** One seeded experiment at `rate` requests per second until it ends or reaches maxDuration. */
export function runAbn(accuracy: Record<string, number>, seed: number, rate: number): AbnRun {
  const streams = new StreamGenerator(seed);
  const spec = ABN_SPEC;
  const versions = Object.keys(accuracy);
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  const warmup = warmupMs(spec);
  const maxMs = parseDuration(spec.strategy.maxDuration);
  const requests = Object.fromEntries(versions.map((v) => [v, 0]));
  const correct = Object.fromEntries(versions.map((v) => [v, 0]));
  let status = decide({
    spec,
    status: emptyStatus(),
    observations: observe(spec, new Map()),
    commands: [],
    now: t0,
  }).statusPatch;
  for (let elapsed = ABN_INTERVAL_MS; elapsed <= maxMs + ABN_INTERVAL_MS; elapsed += ABN_INTERVAL_MS) {
    // One interval's requests, split by the weights in force (a multinomial, by conditional binomials).
    let left = Math.round((rate * ABN_INTERVAL_MS) / 1000);
    let share = 100;
    for (const v of versions) {
      const weight = status.weights?.[v] ?? 0;
      const n = share <= 0 ? 0 : weight >= share ? left : streams.binomial(left, weight / share);
      left -= n;
      share -= weight;
      // The stage window starts after the warm-up.
      if (elapsed > warmup) {
        requests[v]! += n;
        correct[v]! += streams.binomial(n, accuracy[v]!);
      }
    }
    const results = experimentResults(
      spec,
      Object.fromEntries(
        versions.map((v) => [v, { requests: requests[v]!, proportions: { accuracy: [correct[v]!, requests[v]!] } }]),
      ),
    );
    const d = decide({ spec, status, observations: observe(spec, results), commands: [], now: t0 + elapsed });
    status = d.statusPatch;
    const minutes = elapsed / 60_000;
    if (status.phase === 'Promoted') return { outcome: 'winner', winner: status.experiment!.winner!, minutes };
    if (status.phase === 'RolledBack') return { outcome: 'rolled-back', minutes };
    if (status.phase !== 'Progressing') return { outcome: 'other', minutes };
  }
  return { outcome: 'other', minutes: maxMs / 60_000 };
}

export interface AbnReport {
  scenario: string;
  rate: number;
  runs: number;
  /** Runs that declared any winner, with the Monte-Carlo s.e. */
  winnerRate: { value: number; monteCarloSe: number };
  /** Runs whose winner was v2. */
  v2WinnerRate: { value: number; monteCarloSe: number };
  medianMinutesToWinner: number | null;
}

/** `runs` seeded experiments of one scenario at `rate`, summarised. */
export function simulateAbn(
  scenario: (typeof ABN_SCENARIOS)[number],
  runs: number,
  seed: number,
  rate: number,
): AbnReport {
  const results = Array.from({ length: runs }, (_, i) => runAbn(scenario.accuracy, seed * 7_000_003 + i, rate));
  const rateOf = (hit: (r: AbnRun) => boolean) => {
    const p = results.filter(hit).length / runs;
    return { value: p, monteCarloSe: Math.round(Math.sqrt((p * (1 - p)) / runs) * 1e4) / 1e4 };
  };
  return {
    scenario: scenario.name,
    rate,
    runs,
    winnerRate: rateOf((r) => r.outcome === 'winner'),
    v2WinnerRate: rateOf((r) => r.winner === 'v2'),
    medianMinutesToWinner: median(results.filter((r) => r.outcome === 'winner').map((r) => r.minutes)) ?? null,
  };
}
