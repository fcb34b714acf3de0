// Commands for analysts: `weir compare ...` and `weir sample-size ...`. Human
// output by default; with --json, one JSON object on the last line.
import { Command, InvalidArgumentError } from 'commander';
import { UsageError } from '../../../shared/errors.js';
import { formatNumber } from '../../../shared/format.js';
import { atResolution } from '../engine/comparisons.js';
import { mannWhitneyHistogram } from '../stats/mann-whitney-histogram.js';
import { sampleSizeMean, sampleSizeProportion } from '../stats/sample-size.js';
import { twoProportionZTest } from '../stats/two-proportion-z-test.js';
import { welchTTest } from '../stats/welch-t-test.js';

type Better = 'higher' | 'lower';
type Verdict = 'better' | 'worse' | 'no significant difference';

function parseFraction(text: string): { successes: number; trials: number } {
  const match = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!match) throw new InvalidArgumentError('expected SUCCESSES/TRIALS, such as 530/1000');
  const [successes, trials] = [Number(match[1]), Number(match[2])];
  if (trials < 1 || successes > trials)
    throw new InvalidArgumentError('expected SUCCESSES/TRIALS with TRIALS >= 1 and SUCCESSES <= TRIALS');
  return { successes, trials };
}

function parseSummary(text: string): { n: number; mean: number; sd: number } {
  const parts = text.split(',').map((p) => Number(p.trim()));
  if (
    parts.length !== 3 ||
    parts.some((p) => !Number.isFinite(p)) ||
    !Number.isInteger(parts[0]) ||
    parts[0]! < 2 ||
    parts[2]! < 0
  ) {
    throw new InvalidArgumentError('expected N,MEAN,SD with a whole N >= 2 and SD >= 0, such as 200,0.15,0.03');
  }
  return { n: parts[0]!, mean: parts[1]!, sd: parts[2]! };
}

function parseList(form: string, allowInf: boolean) {
  return (text: string): number[] => {
    const values = text.split(',').map((p) => (allowInf && /^\+?inf$/i.test(p.trim()) ? Infinity : Number(p.trim())));
    if (values.length === 0 || values.some((v) => Number.isNaN(v) || (!allowInf && !Number.isFinite(v))))
      throw new InvalidArgumentError(`expected ${form}`);
    return values;
  };
}

function parseProbability(name: string, strictlyInside = true) {
  return (text: string): number => {
    const value = Number(text);
    if (!(strictlyInside ? value > 0 && value < 1 : value >= 0 && value <= 1))
      throw new InvalidArgumentError(`expected a number between 0 and 1 (${name})`);
    return value;
  };
}

function parsePositive(text: string): number {
  const value = Number(text);
  if (!(value > 0) || !Number.isFinite(value)) throw new InvalidArgumentError('expected a positive number');
  return value;
}

function parseNonZero(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value === 0)
    throw new InvalidArgumentError('expected a non-zero number (negative for a drop)');
  return value;
}

function parseBetter(text: string): Better {
  if (text !== 'higher' && text !== 'lower') throw new InvalidArgumentError('expected higher or lower');
  return text;
}

function verdictOf(significant: boolean, canaryHigher: boolean, better: Better): Verdict {
  if (!significant) return 'no significant difference';
  return canaryHigher === (better === 'higher') ? 'better' : 'worse';
}

/** Six significant digits: the analyst compares these with scipy's output. */
const fmt = (n: number) => formatNumber(n, 6);

/** Prints human lines, or only the JSON object when --json was given. */
function emit(json: boolean, lines: string[], result: Record<string, unknown>): void {
  if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else process.stdout.write(`${lines.join('\n')}\n`);
}

/**
 * Prints a difference test's result: `before`, then the difference with its CI,
 * then `after` (given the verdict); with --json, one object with the test's
 * statistics (`extra`), the difference, CI, p-value and verdict.
 */
function emitDifference(
  o: { alpha: number; better: Better; json?: boolean },
  r: { test: string; difference: number; ci: [number, number]; pValue: number },
  before: string[],
  after: (verdict: Verdict) => string[],
  extra: Record<string, number>,
): void {
  const verdict = verdictOf(r.pValue < o.alpha, r.difference > 0, o.better);
  const difference = `difference (canary − stable) ${fmt(r.difference)}, ${Math.round((1 - o.alpha) * 100)}% CI [${fmt(r.ci[0])}, ${fmt(r.ci[1])}]`;
  emit(o.json === true, [...before, difference, ...after(verdict)], {
    test: r.test,
    ...extra,
    difference: r.difference,
    ci: r.ci,
    pValue: r.pValue,
    verdict,
  });
}

/** The options every compare command shares. */
function testOptions(command: Command, better: Better): Command {
  return command
    .option('--alpha <A>', 'significance level', parseProbability('alpha'), 0.05)
    .option('--better <higher|lower>', 'which direction is an improvement', parseBetter, better)
    .option('--json', 'print one JSON object');
}

/** The options every sample-size command shares. */
function planningOptions(command: Command): Command {
  return command
    .option('--alpha <A>', 'significance level', parseProbability('alpha'), 0.05)
    .option('--power <B>', 'power', parseProbability('power'), 0.8)
    .option('--json', 'print one JSON object');
}

/** A statistic refusing its arguments (RangeError) is the user's input at this boundary: a UsageError. */
function usage<A extends unknown[]>(action: (...args: A) => void): (...args: A) => void {
  return (...args) => {
    try {
      action(...args);
    } catch (err) {
      if (err instanceof RangeError) throw new UsageError(err.message);
      throw err;
    }
  };
}

/** Adds `weir compare` and `weir sample-size`: the statistics on numbers an analyst already has. */
export function registerAnalystCommands(program: Command): void {
  const compare = program
    .command('compare')
    .description('champion vs challenger tests on numbers you already have (fixed-horizon)');

  testOptions(compare.command('proportion'), 'higher')
    .description('two-proportion z-test (pooled, two-sided) with an unpooled Wald CI for canary − stable')
    .requiredOption('--stable <S/N>', 'stable successes/trials, such as 480/1000', parseFraction)
    .requiredOption('--canary <S/N>', 'canary successes/trials, such as 530/1000', parseFraction)
    .addHelpText('after', '\nExample:\n  weir compare proportion --stable 480/1000 --canary 530/1000')
    .action(
      usage(
        (o: {
          stable: { successes: number; trials: number };
          canary: { successes: number; trials: number };
          alpha: number;
          better: Better;
          json?: boolean;
        }) => {
          const r = twoProportionZTest(o.stable, o.canary, o.alpha);
          emitDifference(
            o,
            r,
            [
              `stable ${fmt(r.stable)} (${o.stable.successes}/${o.stable.trials}), canary ${fmt(r.canary)} (${o.canary.successes}/${o.canary.trials})`,
            ],
            (verdict) => [`z ${fmt(r.z)}, p ${fmt(r.pValue)}: ${verdict}`],
            { z: r.z },
          );
        },
      ),
    );

  testOptions(compare.command('mean'), 'higher')
    .description("Welch's t-test from summary statistics, with a t-based CI for canary − stable")
    .requiredOption('--stable <N,MEAN,SD>', 'stable sample size, mean and sample SD', parseSummary)
    .requiredOption('--canary <N,MEAN,SD>', 'canary sample size, mean and sample SD', parseSummary)
    .addHelpText('after', '\nExample:\n  weir compare mean --stable 200,0.150,0.030 --canary 180,0.158,0.041')
    .action(
      usage(
        (o: {
          stable: { n: number; mean: number; sd: number };
          canary: { n: number; mean: number; sd: number };
          alpha: number;
          better: Better;
          json?: boolean;
        }) => {
          const r = welchTTest(o.stable, o.canary, o.alpha);
          emitDifference(
            o,
            r,
            [],
            (verdict) => [`t ${fmt(r.t)} on ${fmt(r.df)} df (Welch–Satterthwaite), p ${fmt(r.pValue)}: ${verdict}`],
            { t: r.t, df: r.df },
          );
        },
      ),
    );

  testOptions(compare.command('histogram'), 'lower')
    .description(
      'Mann–Whitney U from two Prometheus histograms (cumulative counts per bucket); each bucket is one tie group',
    )
    .requiredOption(
      '--buckets <LE1,...,+Inf>',
      'bucket upper bounds, rising, ending with +Inf',
      parseList('LE1,...,+Inf: rising numbers ending with +Inf', true),
    )
    .requiredOption(
      '--stable <C1,...>',
      'stable cumulative counts, one per bucket',
      parseList('C1,...: cumulative counts, one per bucket', false),
    )
    .requiredOption(
      '--canary <C1,...>',
      'canary cumulative counts, one per bucket',
      parseList('C1,...: cumulative counts, one per bucket', false),
    )
    .option(
      '--resolution <V>',
      "merge the buckets up to the first bound at or above V (the comparison's resolution field): values below it tie",
      parsePositive,
    )
    .addHelpText(
      'after',
      '\nExample:\n  weir compare histogram --buckets 0.005,0.01,0.025,+Inf --stable 40,90,140,150 --canary 30,70,120,150',
    )
    .action(
      usage(
        (o: {
          buckets: number[];
          stable: number[];
          canary: number[];
          resolution?: number;
          alpha: number;
          better: Better;
          json?: boolean;
        }) => {
          const h = atResolution({ bounds: o.buckets, stable: o.stable, canary: o.canary }, o.resolution);
          const r = mannWhitneyHistogram(h.bounds, { cumulative: h.stable }, { cumulative: h.canary });
          const verdict = verdictOf(r.pValue < o.alpha, r.z > 0, o.better);
          emit(
            o.json === true,
            [
              `U (canary) ${fmt(r.u)} of ${r.samples.stable * r.samples.canary} pairs; P(canary > stable) ${fmt(r.probabilityCanaryHigher)}`,
              `z ${fmt(r.z)}, p ${fmt(r.pValue)}: ${verdict}`,
            ],
            {
              test: r.test,
              u: r.u,
              z: r.z,
              pValue: r.pValue,
              probabilityCanaryHigher: r.probabilityCanaryHigher,
              verdict,
            },
          );
        },
      ),
    );

  const size = program
    .command('sample-size')
    .description('samples per arm needed to detect a minimum effect (two-sided)');
  planningOptions(size.command('proportion'))
    .description('two proportions, Fleiss (= R power.prop.test): p1 = baseline, p2 = baseline + mde')
    .requiredOption('--baseline <P>', 'the stable proportion, such as 0.55', parseProbability('baseline'))
    .requiredOption(
      '--mde <D>',
      'minimum detectable effect in proportion units, such as 0.02 (negative for a drop)',
      parseNonZero,
    )
    .action(
      usage((o: { baseline: number; mde: number; alpha: number; power: number; json?: boolean }) => {
        const r = sampleSizeProportion(o.baseline, o.mde, o.alpha, o.power);
        emit(
          o.json === true,
          [
            `${r.perArm} per arm (${2 * r.perArm} in all) to detect ${o.baseline} → ${fmt(r.target)} at alpha ${o.alpha}, power ${o.power}`,
          ],
          {
            perArm: r.perArm,
            total: 2 * r.perArm,
            baseline: o.baseline,
            target: r.target,
            alpha: o.alpha,
            power: o.power,
          },
        );
      }),
    );
  planningOptions(size.command('mean'))
    .description('two means with a common SD: 2σ²(z₁₋α/₂ + z₁₋β)²/Δ²')
    .requiredOption('--sd <S>', 'standard deviation of one observation', parsePositive)
    .requiredOption('--mde <D>', 'minimum detectable difference in means', parseNonZero)
    .action(
      usage((o: { sd: number; mde: number; alpha: number; power: number; json?: boolean }) => {
        const r = sampleSizeMean(o.sd, o.mde, o.alpha, o.power);
        emit(
          o.json === true,
          [
            `${r.perArm} per arm (${2 * r.perArm} in all) to detect a difference of ${o.mde} with SD ${o.sd} at alpha ${o.alpha}, power ${o.power}`,
          ],
          { perArm: r.perArm, total: 2 * r.perArm, sd: o.sd, mde: o.mde, alpha: o.alpha, power: o.power },
        );
      }),
    );
}
