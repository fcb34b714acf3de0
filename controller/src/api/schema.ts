// The ModelRollout resource: one zod schema is the source of truth for the
// TypeScript types, the defaults, validation, and the CRD's OpenAPI schema.
import { z } from 'zod';
import type { RolloutStatus } from './status.js';
import { versionRef } from './version-ref.js';
import { parseDuration } from '../../../shared/duration.js';
import { ISTIO_REQUESTS } from '../../../shared/metric-names.js';

/** Requests a version served in the stage window, from Istio's standard counter. */
const DEFAULT_SAMPLES = `sum(increase(${ISTIO_REQUESTS}{destination_version="{{version}}",reporter="destination"}[{{window}}]))`;

export const API_GROUP = 'weir.dev';
export const API_VERSION = 'v1alpha1';
export const KIND = 'ModelRollout';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const duration = z
  .string()
  .refine((text) => {
    try {
      parseDuration(text);
      return true;
    } catch {
      return false;
    }
  }, 'is not a duration; expected a number with a unit, such as 30s, 5m, 2h or 1h30m')
  .describe('a duration such as 30s, 5m, 2h');

const name = z
  .string()
  .regex(
    DNS_LABEL,
    'is not a DNS label; expected lowercase letters, digits and dashes, starting and ending with a letter or digit',
  )
  .max(63);
const promql = z
  .string()
  .min(
    1,
    'is empty; expected a PromQL query (it may use {{version}}, {{stable}}, {{canary}}, {{namespace}}, {{model}}, {{window}})',
  );
const percent = z.number().int('is not a whole percentage').min(0, 'is below 0').max(100, 'is above 100');

const guardrail = z
  .object({
    name,
    query: promql.describe('PromQL evaluated per version ({{version}}); one number'),
    min: z.number().optional().describe('fail when the canary is below this'),
    max: z.number().optional().describe('fail when the canary is above this'),
    maxRatio: z
      .number()
      .positive('is not a positive ratio')
      .optional()
      .describe('fail when canary / stable is above this'),
    minRatio: z
      .number()
      .positive('is not a positive ratio')
      .optional()
      .describe('fail when canary / stable is below this'),
    maxIncrease: z.number().nonnegative('is negative').optional().describe('fail when canary − stable is above this'),
    maxDecrease: z.number().nonnegative('is negative').optional().describe('fail when stable − canary is above this'),
    failureLimit: z.number().int().min(1, 'is below 1').default(1).describe('consecutive failed checks that roll back'),
  })
  .refine((g) => [g.min, g.max, g.maxRatio, g.minRatio, g.maxIncrease, g.maxDecrease].some((v) => v !== undefined), {
    message: 'has no bound; set one of min, max, maxRatio, minRatio, maxIncrease, maxDecrease',
  });

const comparisonCommon = {
  name,
  better: z.enum(['higher', 'lower']).default('higher').describe('which direction is an improvement'),
  minEffect: z
    .number()
    .nonnegative('is negative')
    .default(0)
    .describe('smallest difference that matters (practical significance)'),
  tau: z
    .number()
    .positive('is not a positive scale')
    .optional()
    .describe(
      'mSPRT mixing scale, in the units of the difference (default: minEffect, or a per-type default when minEffect is 0)',
    ),
  margin: z
    .number()
    .nonnegative('is negative')
    .optional()
    .describe(
      'non-inferiority margin of the stage gate: a stage is left only once the always-valid interval shows the canary is not worse than this, in the units of the difference (default: minEffect, or a per-type scale when minEffect is 0)',
    ),
  role: z
    .enum(['primary', 'guard'])
    .default('guard')
    .describe(
      'primary: the canary must be significantly better before it gets 100%; guard: only harm counts (blocks and rolls back)',
    ),
};

const comparison = z.discriminatedUnion(
  'type',
  [
    z.object({
      type: z.literal('proportion'),
      ...comparisonCommon,
      successes: promql.describe('count of successes in the window'),
      trials: promql.describe('count of trials in the window'),
    }),
    z.object({
      type: z.literal('mean'),
      ...comparisonCommon,
      count: promql,
      sum: promql,
      sumOfSquares: promql,
    }),
    z.object({
      type: z.literal('histogram'),
      ...comparisonCommon,
      better: z.enum(['higher', 'lower']).default('lower'),
      buckets: promql.describe('cumulative bucket counts in the window, one series per `le`'),
      resolution: z
        .number()
        .positive('is not a positive bucket bound')
        .optional()
        .describe(
          "the smallest value worth telling apart, in the buckets' unit: buckets up to the first bound at or above it are merged, so observations below it tie and a shift among them is not judged (a low-traffic canary answers a fraction of a millisecond slower; the rank test would see only that)",
        ),
    }),
    // Paired: the canary (a shadow) and stable predicted the same requests. Judged in the mirror stage only.
    z.object({
      type: z.literal('paired-proportion'),
      ...comparisonCommon,
      canaryOnly: promql.describe('labelled pairs in the window where only the canary was right'),
      stableOnly: promql.describe('labelled pairs in the window where only stable was right'),
      pairs: promql.describe('all labelled pairs in the window'),
    }),
    z.object({
      type: z.literal('paired-mean'),
      ...comparisonCommon,
      count: promql.describe('pairs in the window'),
      sum: promql.describe('sum of the per-pair differences canary − stable'),
      sumOfSquares: promql.describe('sum of the squared per-pair differences'),
    }),
  ],
  { error: 'is not a comparison type; expected proportion, mean, histogram, paired-proportion or paired-mean' },
);

const probability = z.number().gt(0, 'is not above 0').lt(1, 'is not below 1');

/**
 * An experiment over several versions (strategy.experiment): stable is the
 * control, the canary and spec.candidates the candidates. abn: a fixed split,
 * each candidate compared with the control, a winner to 100%. bandit: the
 * split follows one reward metric each interval, and the arm that is best with
 * sustained confidence gets 100%.
 */
const experiment = z
  .object({
    type: z.enum(['abn', 'bandit'], { error: 'is not an experiment type; expected abn or bandit' }),
    weights: z
      .record(z.string(), percent)
      .optional()
      .describe('abn: the fixed split, whole percent per version, summing to 100 (default: even)'),
    algorithm: z
      .enum(['thompson', 'top-two-thompson', 'ucb1', 'epsilon-greedy'], {
        error: 'is not a bandit algorithm; expected thompson, top-two-thompson, ucb1 or epsilon-greedy',
      })
      .default('thompson')
      .describe('bandit: how each interval splits traffic'),
    reward: name
      .optional()
      .describe('bandit: the comparison (a proportion or a mean in analysis.comparisons) whose metric is the reward'),
    floor: percent.default(1).describe('bandit: whole percent every arm keeps however it does (exploration floor)'),
    burnIn: z
      .number()
      .int()
      .min(0, 'is negative')
      .optional()
      .describe(
        'bandit: rewards over all arms before the split adapts; an even split until then (default: 100 × arms)',
      ),
    c: z.number().positive('is not positive').default(2).describe("UCB1's exploration constant"),
    epsilon: z
      .object({ start: probability.default(0.3), floor: probability.default(0.05) })
      .default({ start: 0.3, floor: 0.05 })
      .describe('epsilon-greedy: ε from start through the burn-in, decaying as 1/n to floor'),
    leaderShare: probability.default(0.5).describe("top-two Thompson: the leader's probability of being played"),
    stopProbability: probability
      .default(0.95)
      .describe('bandit: an arm whose P(best) holds at least this for `sustain` wins'),
    sustain: duration.default('5m').describe('bandit: how long the leader must hold stopProbability'),
  })
  .describe(
    'an experiment over several versions: stable is the control, canary and candidates are the candidates (A/B/n or a bandit); steps and mirror do not apply',
  );

const steps = z
  .array(z.number().int('is not a whole percentage').min(1, 'is below 1').max(100, 'is above 100'))
  .min(1, 'is empty; expected rising percentages ending at 100, such as [10, 25, 50, 100]')
  .refine(
    (list) => list.every((w, i) => i === 0 || w > list[i - 1]!),
    'must rise: each step must be larger than the one before',
  )
  .refine((list) => list.at(-1) === 100, 'must end at 100');

const specObject = z.object({
  model: z.string().min(1, 'is empty; expected the model name'),
  virtualService: z.object({
    name,
    route: z.string().min(1, 'is empty; expected the name of the HTTP route weir owns'),
  }),
  stable: versionRef,
  canary: versionRef,
  candidates: z
    .array(versionRef)
    .max(9, 'has more than 9 versions; an experiment takes the control and at most 10 candidates')
    .optional()
    .describe('strategy.experiment: more candidates besides the canary, each with its own version label'),
  baseline: versionRef
    .optional()
    .describe(
      "Kayenta's baseline: predictors running the stable model under their own version label (such as v1-baseline), started with the canary and given the same share; comparisons and relative guardrails judge the canary against it instead of the long-running stable",
    ),
  strategy: z
    .object({
      steps: steps.default([10, 25, 50, 100]),
      minStageDuration: duration.default('5m'),
      minSamplesPerStage: z.number().int().min(0, 'is negative').default(1000),
      maxDuration: duration.default('2h'),
      approvals: z
        .array(percent)
        .default([])
        .describe('canary weights that wait for `weir approve` before they are set'),
      mirror: z
        .object({ percent: percent.min(1, 'is below 1'), duration })
        .optional()
        .describe('shadow stage before the first step'),
      experiment: experiment.optional(),
      stickiness: z
        .object({
          cookie: z
            .string()
            .regex(/^[A-Za-z0-9_-]{1,64}$/, 'is not a cookie name; expected letters, digits, - and _ (at most 64)')
            .default('weir-version'),
          maxAge: duration.default('24h').describe('how long a browser keeps the cookie'),
        })
        .optional()
        .describe(
          "sticky assignment (Flagger's Istio session affinity): while traffic is split, responses from the new version set a cookie, and a route per version sends requests carrying it back to that version, so a user stays on the version first given across stages. The routes go at 100% and at a rollback",
        ),
      scaleDownDelay: duration
        .optional()
        .describe(
          'blue-green: how long the 100% stage lasts before the rollout is Promoted. The old version gets no traffic but keeps its place in the route, so while its pods still run (weir never scales them), weir abort or a failing guardrail switches all traffic back at once. Default: minStageDuration',
        ),
      onInconclusive: z
        .enum(['rollback', 'promote', 'pause'])
        .default('rollback')
        .describe('what to do at maxDuration without a decision'),
      headerRoute: z
        .object({
          headers: z
            .record(
              z.string(),
              z
                .object({ exact: z.string().optional(), prefix: z.string().optional(), regex: z.string().optional() })
                .refine(
                  (m) => [m.exact, m.prefix, m.regex].filter((v) => v !== undefined).length === 1,
                  'needs exactly one of exact, prefix, regex',
                ),
            )
            .refine(
              (h) => Object.keys(h).length > 0,
              'is empty; expected at least one header match, such as x-cohort: {exact: beta}',
            ),
        })
        .optional()
        .describe(
          'A/B cohort: during canary stages, requests with these headers all go to the canary (a route "<route>-weir-canary" weir adds before its own and removes at the end, in the VirtualService or the local gateway); a cookie cohort matches the cookie header with a regex',
        ),
    })
    .default({
      steps: [10, 25, 50, 100],
      minStageDuration: '5m',
      minSamplesPerStage: 1000,
      maxDuration: '2h',
      approvals: [],
      onInconclusive: 'rollback',
    }),
  analysis: z
    .object({
      interval: duration.default('30s'),
      warmup: duration
        .optional()
        .describe(
          'left out of comparisons and relative guardrails at the start of each stage (a version just started or given new load is not judged cold); absolute guardrail bounds act at once. Default: half of minStageDuration, at most 1m',
        ),
      alpha: z.number().gt(0, 'is not above 0').lt(1, 'is not below 1').default(0.05),
      power: z.number().gt(0, 'is not above 0').lt(1, 'is not below 1').default(0.8),
      sequential: z.enum(['msprt', 'obrien-fleming', 'pocock']).default('msprt'),
      samples: promql.default(DEFAULT_SAMPLES).describe('requests served by a version in the stage window'),
      sampleRatio: z
        .object({
          threshold: z
            .number()
            .gt(0, 'is not above 0')
            .lt(1, 'is not below 1')
            .default(0.001)
            .describe("a mismatch is declared when the test's p-value falls below this"),
          test: z
            .enum(['sequential', 'chi-squared'], { error: 'is not a test; expected sequential or chi-squared' })
            .default('sequential')
            .describe(
              'sequential (default): the always-valid Dirichlet-multinomial test of Lindon & Malek (2022), safe to read at every interval; chi-squared: Pearson goodness of fit at each look (more power, but repeated looks raise its false alarms)',
            ),
          onMismatch: z
            .enum(['pause', 'hold', 'rollback'], {
              error: 'is not an action; expected pause, hold or rollback',
            })
            .default('pause')
            .describe(
              'pause: stop until weir resume (a new period starts) or weir abort; hold: stay in the stage without judging comparisons; rollback: take traffic off the canary',
            ),
        })
        .default({ threshold: 0.001, test: 'sequential', onMismatch: 'pause' })
        .describe(
          "sample-ratio check: in every split stage, the requests each version served are compared with the route's weights",
        ),
      guardrails: z.array(guardrail).default([]),
      comparisons: z.array(comparison).default([]),
      business: z
        .object({
          revenuePerAccuracyPoint: z.number(),
          costPerMs: z.number(),
          riskPerErrorPoint: z.number(),
          materialValue: z.number().default(0),
        })
        .optional(),
    })
    .default({
      interval: '30s',
      alpha: 0.05,
      power: 0.8,
      sequential: 'msprt',
      samples: DEFAULT_SAMPLES,
      sampleRatio: { threshold: 0.001, test: 'sequential', onMismatch: 'pause' },
      guardrails: [],
      comparisons: [],
    }),
  notifications: z
    .object({
      alertmanager: z.boolean().default(true).describe("send alerts to the controller's Alertmanager"),
      abortOnAlert: z
        .array(z.string())
        .default([])
        .describe('alert names that abort this rollout when they fire for the canary'),
    })
    .optional(),
});

export const specSchema = specObject.superRefine((spec, ctx) => {
  for (const [i, weight] of spec.strategy.approvals.entries()) {
    if (!spec.strategy.steps.includes(weight)) {
      ctx.addIssue({
        code: 'custom',
        path: ['strategy', 'approvals', i],
        message: `is not one of the steps (${spec.strategy.steps.join(', ')})`,
        input: weight,
      });
    }
  }
  if (spec.baseline) {
    for (const [other, what] of [
      [spec.stable.version, 'stable.version'],
      [spec.canary.version, 'canary.version'],
    ] as const)
      if (spec.baseline.version === other)
        ctx.addIssue({
          code: 'custom',
          path: ['baseline', 'version'],
          message: `is the same as ${what}; the baseline's pods need a version label of their own (such as ${spec.stable.version}-baseline) so its metrics are told apart`,
          input: spec.baseline.version,
        });
    spec.strategy.steps.forEach((weight, i) => {
      if (weight < 100 && weight > 50)
        ctx.addIssue({
          code: 'custom',
          path: ['strategy', 'steps', i],
          message: `is above 50: with a baseline, the baseline takes the same share as the canary, so every step before 100 must be at most 50`,
          input: weight,
        });
    });
  }
  refineExperiment(spec, ctx);
  if (spec.strategy.stickiness) {
    // The version goes into a cookie and a header regex: only a Kubernetes label value is safe there.
    const refs: [string | number, { version: string }][] = [
      ['canary', spec.canary],
      ...(spec.candidates ?? []).map((ref, i): [number, { version: string }] => [i, ref]),
    ];
    for (const [where, ref] of refs)
      if (!/^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/.test(ref.version))
        ctx.addIssue({
          code: 'custom',
          path: typeof where === 'number' ? ['candidates', where, 'version'] : [where, 'version'],
          message:
            'is not a label value (letters, digits, ".", "-", "_", at most 63, starting and ending with a letter or digit); with strategy.stickiness it is written into a cookie',
          input: ref.version,
        });
  }
  if (spec.strategy.steps.length === 1 && !spec.strategy.mirror && !spec.strategy.experiment)
    ctx.addIssue({
      code: 'custom',
      path: ['strategy', 'steps'],
      message:
        'is [100] alone, which would switch all traffic at once with nothing judged first; set strategy.mirror (such as {percent: 100, duration: 10m}) so the new version is verified on mirrored traffic before the switch, or use steps such as [10, 50, 100]',
      input: spec.strategy.steps,
    });
  if (spec.stable.version === spec.canary.version)
    ctx.addIssue({
      code: 'custom',
      path: ['canary', 'version'],
      message: 'is the same as stable.version',
      input: spec.canary.version,
    });
  spec.analysis.comparisons.forEach((c, i) => {
    if (isPaired(c) && !spec.strategy.mirror)
      ctx.addIssue({
        code: 'custom',
        path: ['analysis', 'comparisons', i, 'type'],
        message: `is judged only in a mirror stage, and this rollout has none; set strategy.mirror (such as {percent: 100, duration: 10m})`,
        input: c.type,
      });
  });
  const seen = new Set<string>();
  for (const [list, key] of [
    [spec.analysis.guardrails, 'guardrails'],
    [spec.analysis.comparisons, 'comparisons'],
  ] as const) {
    list.forEach((item, i) => {
      if (seen.has(item.name))
        ctx.addIssue({
          code: 'custom',
          path: ['analysis', key, i, 'name'],
          message: 'is used twice; metric names must be unique',
          input: item.name,
        });
      seen.add(item.name);
    });
  }
  // Refinements run even when a field already failed; a bad duration is reported there.
  const ms = (text: string) => {
    try {
      return parseDuration(text);
    } catch {
      return undefined;
    }
  };
  const [maxMs, minMs] = [ms(spec.strategy.maxDuration), ms(spec.strategy.minStageDuration)];
  if (maxMs !== undefined && minMs !== undefined && maxMs < minMs) {
    ctx.addIssue({
      code: 'custom',
      path: ['strategy', 'maxDuration'],
      message: `is shorter than minStageDuration (${spec.strategy.minStageDuration})`,
      input: spec.strategy.maxDuration,
    });
  }
});

type SpecOutput = z.output<typeof specObject>;
type RefinementContext = z.RefinementCtx;

/** An experiment's rules: its versions are distinct, its split sums to 100, a bandit names a reward, A/B/n a primary comparison. */
function refineExperiment(spec: SpecOutput, ctx: RefinementContext): void {
  const issue = (path: (string | number)[], message: string, input: unknown) =>
    ctx.addIssue({ code: 'custom', path, message, input });
  const experiment = spec.strategy.experiment;
  if (!experiment) {
    if (spec.candidates?.length)
      issue(
        ['candidates'],
        'needs strategy.experiment (type abn or bandit): only an experiment routes to more than one candidate',
        spec.candidates,
      );
    return;
  }
  const versions = [spec.stable.version, ...candidateVersions(spec)];
  (spec.candidates ?? []).forEach((ref, i) => {
    const first = versions.indexOf(ref.version);
    if (first < i + 2)
      issue(
        ['candidates', i, 'version'],
        `is already routed as ${first === 0 ? 'stable' : first === 1 ? 'canary' : `candidates[${first - 2}]`}; each version takes part once`,
        ref.version,
      );
  });
  if (spec.baseline)
    issue(
      ['baseline'],
      'is not supported with strategy.experiment: every candidate is judged against the control (stable) on the same split',
      spec.baseline,
    );
  if (spec.strategy.scaleDownDelay)
    issue(
      ['strategy', 'scaleDownDelay'],
      'does not apply to an experiment: the winner is promoted when it wins',
      spec.strategy.scaleDownDelay,
    );
  if (spec.strategy.mirror)
    issue(
      ['strategy', 'mirror'],
      'does not apply to an experiment: its versions take live traffic from the start',
      spec.strategy.mirror,
    );
  if (spec.strategy.headerRoute)
    issue(
      ['strategy', 'headerRoute'],
      'is not supported with strategy.experiment: a cohort sent outside the weights would bias every comparison',
      spec.strategy.headerRoute,
    );
  if (experiment.weights) {
    const named = Object.keys(experiment.weights);
    for (const version of named)
      if (!versions.includes(version))
        issue(
          ['strategy', 'experiment', 'weights', version],
          `is not one of the experiment's versions (${versions.join(', ')})`,
          version,
        );
    for (const version of versions)
      if (!named.includes(version))
        issue(
          ['strategy', 'experiment', 'weights'],
          `has no weight for ${version}; name every version (${versions.join(', ')})`,
          experiment.weights,
        );
    const sum = Object.values(experiment.weights).reduce((a, b) => a + b, 0);
    if (sum !== 100)
      issue(['strategy', 'experiment', 'weights'], `sums to ${sum}; the weights must sum to 100`, experiment.weights);
    for (const [version, weight] of Object.entries(experiment.weights))
      if (weight === 0)
        issue(
          ['strategy', 'experiment', 'weights', version],
          'is 0: a version in the experiment needs traffic to be judged',
          weight,
        );
  }
  if (experiment.type === 'bandit') {
    if (experiment.floor * versions.length > 100)
      issue(
        ['strategy', 'experiment', 'floor'],
        `is ${experiment.floor}% for each of ${versions.length} versions, ${experiment.floor * versions.length}% in all; the weights cannot sum to 100 with these floors`,
        experiment.floor,
      );
    if (experiment.weights)
      issue(
        ['strategy', 'experiment', 'weights'],
        'does not apply to a bandit: its split follows the reward',
        experiment.weights,
      );
    if (experiment.epsilon.floor > experiment.epsilon.start)
      issue(
        ['strategy', 'experiment', 'epsilon', 'floor'],
        `is above epsilon.start (${experiment.epsilon.start})`,
        experiment.epsilon.floor,
      );
    if (experiment.reward === undefined)
      issue(
        ['strategy', 'experiment', 'reward'],
        'a bandit needs a reward: the name of a proportion or mean comparison in analysis.comparisons (such as accuracy)',
        undefined,
      );
    else {
      const reward = spec.analysis.comparisons.find((c) => c.name === experiment.reward);
      if (!reward)
        issue(
          ['strategy', 'experiment', 'reward'],
          `names no comparison; expected one of ${spec.analysis.comparisons.map((c) => c.name).join(', ') || '(none: add a proportion or mean comparison)'}`,
          experiment.reward,
        );
      else if (reward.type !== 'proportion' && reward.type !== 'mean')
        issue(
          ['strategy', 'experiment', 'reward'],
          `names a ${reward.type} comparison; a reward is a proportion (such as accuracy) or a mean (such as business value per labelled prediction)`,
          experiment.reward,
        );
    }
  } else if (!spec.analysis.comparisons.some((c) => c.role === 'primary' && !isPaired(c)))
    issue(
      ['analysis', 'comparisons'],
      'has no primary comparison; an A/B/n experiment declares a winner on its primary comparisons (set role: primary on one, such as accuracy)',
      spec.analysis.comparisons.length,
    );
  if (spec.strategy.approvals.some((w) => w !== 100))
    issue(
      ['strategy', 'approvals'],
      'may only hold 100 in an experiment: the winner waits for weir approve before it takes all traffic',
      spec.strategy.approvals,
    );
}

export type ModelRolloutSpec = z.output<typeof specSchema>;
export type ModelRolloutSpecInput = z.input<typeof specSchema>;
export type Guardrail = ModelRolloutSpec['analysis']['guardrails'][number];
export type Comparison = ModelRolloutSpec['analysis']['comparisons'][number];

/** The versions that compete with stable: the canary, then an experiment's other candidates. */
export function candidateVersions(spec: Pick<ModelRolloutSpec, 'canary' | 'candidates'>): string[] {
  return [spec.canary, ...(spec.candidates ?? [])].map((ref) => ref.version);
}

/** Paired comparisons (shadow vs stable on the same requests) are judged in the mirror stage; the others while traffic is split. */
export function isPaired(comparison: Comparison): boolean {
  return comparison.type === 'paired-proportion' || comparison.type === 'paired-mean';
}

/** A ModelRollout as weir's code handles it: spec with defaults filled in, and its status. */
export interface ModelRollout {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [key: string]: unknown };
  spec: ModelRolloutSpec;
  status?: RolloutStatus;
}

export * from './status.js';
