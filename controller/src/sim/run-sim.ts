// `make sim`: every scenario through weir (mSPRT and O'Brien–Fleming spending)
// and the two baselines, at a quiet and a busy request rate; the report is one
// JSON document on stdout (targets as measured/target/met), progress on stderr.
import { Command } from 'commander';
import { parseDuration } from '../../../shared/duration.js';
import { sampleSizeProportion } from '../stats/sample-size.js';
import {
  BANDIT_ARMS,
  BANDIT_HORIZON_MS,
  BANDIT_INTERVAL_MS,
  BANDIT_POLICIES,
  BANDIT_STOP,
  simulateBandit,
  type BanditReport,
} from './bandit-sim.js';
import { ABN_SCENARIOS, ABN_SPEC, simulateAbn, type AbnReport } from './abn-sim.js';
import { RATES, SIM_SPEC, simulateScenario, type Policy, type ScenarioReport } from './simulate.js';
import { SCENARIOS } from './streams.js';

const program = new Command('weir-sim')
  .description(
    'Simulate rollouts on synthetic metric streams at 20 and 200 req/s and report, per decision rule, false promotions, how early a bad canary is caught, its exposure, and how fast a good one is promoted, as JSON',
  )
  .option('--runs <n>', 'runs per cell (scenario × rate × policy)', '2000')
  .option('--seed <n>', 'seed of the first run', '1')
  .option('--bandit-runs <n>', 'runs per bandit cell (policy × rate); each computes P(best) every interval', '100')
  .option('--abn-runs <n>', 'runs per A/B/n cell (scenario × rate), each through decide() over three versions', '2000')
  .parse();
const {
  runs: runsText,
  seed: seedText,
  banditRuns: banditRunsText,
  abnRuns: abnRunsText,
} = program.opts<{ runs: string; seed: string; banditRuns: string; abnRuns: string }>();
const runs = Number(runsText);
const seed = Number(seedText);
const banditRuns = Number(banditRunsText);
if (!Number.isInteger(runs) || runs < 1) program.error(`--runs: "${runsText}" is not a whole number >= 1`);
if (!Number.isInteger(seed)) program.error(`--seed: "${seedText}" is not a whole number`);
if (!Number.isInteger(banditRuns) || banditRuns < 1)
  program.error(`--bandit-runs: "${banditRunsText}" is not a whole number >= 1`);
const abnRuns = Number(abnRunsText);
if (!Number.isInteger(abnRuns) || abnRuns < 1) program.error(`--abn-runs: "${abnRunsText}" is not a whole number >= 1`);

const policies: Policy[] = ['weir', 'weir-obrien-fleming', 'naive', 'flagger'];
const results: ScenarioReport[] = [];
const cells = RATES.length * SCENARIOS.length * policies.length;
for (const rate of RATES) {
  for (const policy of policies) {
    for (const scenario of SCENARIOS) {
      const started = performance.now();
      results.push(simulateScenario(policy, scenario, runs, seed, rate));
      process.stderr.write(
        `[sim] ${results.length}/${cells} ${rate} req/s, ${policy} / ${scenario.name}: ${runs} runs in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
      );
    }
  }
}

const bandits: BanditReport[] = [];
for (const rate of RATES) {
  for (const name of Object.keys(BANDIT_POLICIES)) {
    const started = performance.now();
    bandits.push(simulateBandit(name, banditRuns, seed, rate));
    process.stderr.write(
      `[sim] bandit ${rate} req/s, ${name}: ${banditRuns} runs in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
    );
  }
}

const abn: AbnReport[] = [];
for (const rate of RATES) {
  for (const scenario of ABN_SCENARIOS) {
    const started = performance.now();
    abn.push(simulateAbn(scenario, abnRuns, seed, rate));
    process.stderr.write(
      `[sim] A/B/n ${rate} req/s, ${scenario.name}: ${abnRuns} runs in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
    );
  }
}

const alpha = SIM_SPEC.analysis.alpha;
const power = SIM_SPEC.analysis.power;
/** The Monte-Carlo standard error of a rate p estimated from `runs` runs, and two of them. */
const se = (p: number) => Math.sqrt((p * (1 - p)) / runs);
const twoSe = (p: number) => 2 * se(p);
const cell = (policy: Policy, scenario: string, rate: number) =>
  results.find((r) => r.policy === policy && r.scenario === scenario && r.rate === rate)!;
const round = (x: number, digits = 4) => Math.round(x * 10 ** digits) / 10 ** digits;
const measured = (p: number) => ({ value: round(p), monteCarloSe: round(se(p)) });

// The fixed-horizon design for the same effect: two-proportion z, two-sided alpha, power, 0.60 vs 0.66.
const better = SCENARIOS.find((s) => s.name === 'better')!;
const fixed = sampleSizeProportion(
  better.stable.accuracy,
  better.canary.accuracy - better.stable.accuracy,
  alpha,
  power,
).perArm;

const targets: Record<string, { measured: unknown; target: string; met: boolean }> = {};
const comparisonWithFixedHorizon: Record<string, unknown> = {};
const exposure: Record<string, unknown> = {};
for (const rate of RATES) {
  const equal = cell('weir', 'equal', rate).promotedRate;
  targets[`equalPromotedAt${rate}`] = {
    measured: measured(equal),
    target: `<= ${round(alpha + twoSe(alpha))} (alpha + 2 Monte-Carlo s.e.)`,
    met: equal <= alpha + twoSe(alpha),
  };
  const caught = cell('weir', 'worse-accuracy', rate).caughtAtFirstStageRate!;
  targets[`worseCaughtAtFirstStageAt${rate}`] = {
    measured: measured(caught),
    target: '>= 0.95 (rolled back on evidence at the 10% stage)',
    met: caught >= 0.95,
  };
  const good = cell('weir', 'better', rate);
  targets[`betterPromotedAt${rate}`] = {
    measured: { ...measured(good.promotedRate), medianMinutes: good.medianMinutesToPromote ?? null },
    target: `>= 0.95 within maxDuration ${SIM_SPEC.strategy.maxDuration}`,
    met: good.promotedRate >= 0.95,
  };
  comparisonWithFixedHorizon[`at${rate}`] = {
    weirMedianMinutesToPromote: good.medianMinutesToPromote ?? null,
    fixedHorizonPerArm: fixed,
    fixedHorizonMinutesAt50_50: round((2 * fixed) / rate / 60, 1),
    fixedHorizonMinutesAt10Percent: round(fixed / (rate * 0.1) / 60, 1),
    note: 'the fixed-horizon test looks once, at a split fixed in advance; weir walks 10/25/50 and may stop at any look',
  };
  exposure[`at${rate}`] = Object.fromEntries(
    policies.map((policy) => [
      policy,
      {
        worseAccuracy: round(cell(policy, 'worse-accuracy', rate).meanExposure!),
        slow: round(cell(policy, 'slow', rate).meanExposure!),
      },
    ]),
  );
}
const falsePromotion = (policy: Policy) =>
  Math.max(
    ...results
      .filter((r) => r.policy === policy && r.falsePromotionRate !== undefined)
      .map((r) => r.falsePromotionRate!),
  );
for (const policy of ['weir', 'weir-obrien-fleming'] as const)
  targets[`${policy}WorstFalsePromotionRate`] = {
    measured: measured(falsePromotion(policy)),
    target: `<= ${round(alpha + twoSe(alpha))} (alpha + 2 Monte-Carlo s.e.)`,
    met: falsePromotion(policy) <= alpha + twoSe(alpha),
  };

for (const rate of RATES) {
  const thompson = bandits.find((b) => b.policy === 'thompson' && b.rate === rate)!;
  targets[`banditThompsonRegretVsUniformAt${rate}`] = {
    measured: { value: thompson.regretVsUniform, regret: thompson.regret, uniformRegret: thompson.uniformRegret },
    target: '<= 0.5 (half the correct answers an even split loses against the oracle, over the hour)',
    met: thompson.regretVsUniform <= 0.5,
  };
  targets[`banditThompsonChoseBestAt${rate}`] = {
    measured: thompson.choseBestRate,
    target: `>= 0.95 (the stop rule, P(best) >= ${BANDIT_STOP.pBest} for ${BANDIT_STOP.sustainedMs / 60_000} min, picks the best arm)`,
    met: thompson.choseBestRate.value >= 0.95,
  };
}

for (const rate of RATES) {
  const equal = abn.find((a) => a.scenario === 'all-equal' && a.rate === rate)!;
  const bound = alpha + 2 * Math.sqrt((alpha * (1 - alpha)) / abnRuns);
  targets[`abnFalseWinnerAllEqualAt${rate}`] = {
    measured: equal.winnerRate,
    target: `<= ${round(bound)} (alpha + 2 Monte-Carlo s.e.): three equal versions, any winner is false`,
    met: equal.winnerRate.value <= bound,
  };
  const better = abn.find((a) => a.scenario === 'v2-better' && a.rate === rate)!;
  targets[`abnBetterWinsAt${rate}`] = {
    measured: { ...better.v2WinnerRate, medianMinutes: better.medianMinutesToWinner },
    target: `>= 0.95: v2 six points better than the control and v3 wins within maxDuration ${ABN_SPEC.strategy.maxDuration}`,
    met: better.v2WinnerRate.value >= 0.95,
  };
}

process.stdout.write(
  `${JSON.stringify(
    {
      simulation: 'weir rollout policies on synthetic streams',
      setup: {
        ratesPerSecond: RATES,
        intervalSeconds: parseDuration(SIM_SPEC.analysis.interval) / 1000,
        steps: SIM_SPEC.strategy.steps,
        minStageDuration: SIM_SPEC.strategy.minStageDuration,
        warmup: 'default: half of minStageDuration, at most 1m',
        minSamplesPerStage: SIM_SPEC.strategy.minSamplesPerStage,
        maxDuration: SIM_SPEC.strategy.maxDuration,
        alpha,
        power,
        stageGate: 'non-inferiority: the always-valid interval within each comparison margin (default minEffect)',
        scenarios: Object.fromEntries(SCENARIOS.map((s) => [s.name, { stable: s.stable, canary: s.canary }])),
      },
      runsPerCell: runs,
      targets,
      allTargetsMet: Object.values(targets).every((t) => t.met),
      exposure: {
        note: 'share of all requests the bad canary answered before its outcome, mean over runs',
        ...exposure,
      },
      comparisonWithFixedHorizon,
      bandits: {
        setup: {
          accuracies: Object.fromEntries(BANDIT_ARMS.map((p, i) => [`v${i + 1}`, p])),
          intervalSeconds: BANDIT_INTERVAL_MS / 1000,
          horizonMinutes: BANDIT_HORIZON_MS / 60_000,
          stop: BANDIT_STOP,
          policies: BANDIT_POLICIES,
          note: 'regret: correct answers lost against an oracle that always serves the best arm; every prediction labelled',
        },
        runsPerCell: banditRuns,
        results: bandits,
      },
      abn: {
        setup: {
          versions: 'v1 (control), v2 and v3 (candidates) on an even split (34/33/33)',
          scenarios: ABN_SCENARIOS,
          correction: 'Holm across candidates × comparisons on the mSPRT always-valid p-values',
          winnerRule:
            'better than the control on the primary comparison by minEffect, and not significantly worse than the other candidate',
          minStageDuration: ABN_SPEC.strategy.minStageDuration,
          maxDuration: ABN_SPEC.strategy.maxDuration,
          intervalSeconds: 30,
        },
        runsPerCell: abnRuns,
        results: abn,
      },
      worstFalsePromotionRate: Object.fromEntries(policies.map((p) => [p, falsePromotion(p)])),
      results,
    },
    null,
    2,
  )}\n`,
);
