// `make bench-judgement`: the live loop, measured. Runs `weir demo` scenarios
// one after another (default 10 good, 10 bad-accuracy, 5 slow), each a real
// stack of predictors, gateway, Prometheus, Alertmanager and controller, and
// prints one JSON document: per scenario the outcomes, the rollback causes and
// the time to a decision, and the target as measured/target/met: no good run
// rolled back, every bad-accuracy run rolled back on accuracy, every slow run
// on latency. Progress goes to stderr. This is a benchmark, not a test: a
// busy machine moves its numbers.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { median, rollbackCauseOf } from '../../controller/src/sim/simulate.js';
import { runDemoJson } from '../support/cli.js';

const program = new Command('bench-judgement')
  .description('run weir demo scenarios repeatedly and report how the live loop judged them, as JSON')
  .option('--good <n>', 'runs of the good scenario (v2, better: must be promoted)', '10')
  .option('--bad-accuracy <n>', 'runs of bad-accuracy (v3, less accurate: must be rolled back on accuracy)', '10')
  .option('--slow <n>', 'runs of slow (v4, +40 ms: must be rolled back on latency)', '5')
  .option('--no-baseline', 'judge against the running v1 instead of a fresh baseline of v1')
  .parse();
const options = program.opts<{ good: string; badAccuracy: string; slow: string; baseline: boolean }>();
const counts = { good: options.good, 'bad-accuracy': options.badAccuracy, slow: options.slow };
for (const [name, text] of Object.entries(counts))
  if (!/^\d+$/.test(text)) program.error(`--${name}: "${text}" is not a whole number`);

interface Run {
  phase: string;
  cause: string | null;
  durationSeconds: number;
  rollbackReason: string | null;
  weightsApplied: number[];
  failedRequests: number;
}

/** What rolled a run back, from its reason: the guardrail's or comparison's name, or maxDuration. */
function causeOf(reason: string | null): string | null {
  if (!reason) return null;
  if (reason.includes('maxDuration')) return 'maxDuration';
  return rollbackCauseOf(reason) ?? 'other';
}

/** The latency checks of the demo's rollout: the latency comparison and the p95 guardrail. */
const isLatency = (cause: string | null) => cause === 'latency' || cause === 'p95-latency-ms';

const dir = await mkdtemp(path.join(os.tmpdir(), 'weir-bench-judgement-'));
const runs: Record<string, Run[]> = {};
const total = Object.values(counts).reduce((a, b) => a + Number(b), 0);
let done = 0;
try {
  for (const [scenario, text] of Object.entries(counts)) {
    runs[scenario] = [];
    for (let i = 0; i < Number(text); i++) {
      const started = Date.now();
      const r = (await runDemoJson(
        scenario,
        path.join(dir, `${scenario}-${i}.md`),
        options.baseline ? ['--baseline'] : [],
        480_000,
      )) as Omit<Run, 'cause'>;
      const run: Run = {
        phase: r.phase,
        cause: causeOf(r.rollbackReason),
        durationSeconds: r.durationSeconds,
        rollbackReason: r.rollbackReason,
        weightsApplied: r.weightsApplied,
        failedRequests: r.failedRequests,
      };
      runs[scenario].push(run);
      process.stderr.write(
        `[bench-judgement] ${++done}/${total} ${scenario} #${i + 1}: ${run.phase}${run.cause ? ` (${run.cause})` : ''} after ${run.durationSeconds} s, weights ${run.weightsApplied.join(' → ')} (${((Date.now() - started) / 1000).toFixed(0)} s with start-up)\n`,
      );
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}

const tally = (list: (string | null)[]) =>
  list.reduce<Record<string, number>>((acc, v) => ((acc[v ?? 'none'] = (acc[v ?? 'none'] ?? 0) + 1), acc), {});
const scenarios = Object.fromEntries(
  Object.entries(runs).map(([scenario, list]) => [
    scenario,
    {
      runs: list.length,
      outcomes: tally(list.map((r) => r.phase)),
      rollbackCauses: tally(list.filter((r) => r.phase === 'RolledBack').map((r) => r.cause)),
      medianSecondsToDecision: median(list.map((r) => r.durationSeconds)) ?? null,
      secondsToDecision: list.map((r) => r.durationSeconds),
      failedRequests: list.reduce((sum, r) => sum + r.failedRequests, 0),
      rollbackReasons: list.filter((r) => r.rollbackReason).map((r) => r.rollbackReason),
    },
  ]),
);
const good = runs.good ?? [];
const bad = runs['bad-accuracy'] ?? [];
const slow = runs.slow ?? [];
const targets = {
  goodNeverRolledBack: {
    measured: `${good.filter((r) => r.phase === 'Promoted').length} of ${good.length} promoted`,
    target: 'every good run promoted (none rolled back)',
    met: good.every((r) => r.phase === 'Promoted'),
  },
  badAccuracyRolledBackOnAccuracy: {
    measured: `${bad.filter((r) => r.phase === 'RolledBack' && r.cause === 'accuracy').length} of ${bad.length}`,
    target: 'every bad-accuracy run rolled back on accuracy',
    met: bad.every((r) => r.phase === 'RolledBack' && r.cause === 'accuracy'),
  },
  slowRolledBackOnLatency: {
    measured: `${slow.filter((r) => r.phase === 'RolledBack' && isLatency(r.cause)).length} of ${slow.length}`,
    target: 'every slow run rolled back on latency (the latency comparison or the p95 guardrail)',
    met: slow.every((r) => r.phase === 'RolledBack' && isLatency(r.cause)),
  },
};
process.stdout.write(
  `${JSON.stringify(
    {
      benchmark: 'weir demo scenarios, judged by the live loop',
      baseline: options.baseline ? 'v1-baseline (fresh predictors of v1, the canary’s share)' : 'none (the running v1)',
      machine: { cpus: os.cpus().length, node: process.version },
      targets,
      allTargetsMet: Object.values(targets).every((t) => t.met),
      scenarios,
    },
    null,
    2,
  )}\n`,
);
