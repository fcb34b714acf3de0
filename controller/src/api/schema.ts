// The ModelRollout resource: one zod schema is the source of truth for the
// TypeScript types, the defaults, validation, and the CRD's OpenAPI schema.
import { z } from 'zod';
import { parseDuration } from '../../../shared/duration.js';

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

const versionRef = z.object({
  version: z
    .string()
    .min(1, 'is empty; expected the model version, such as v2')
    .describe("model version, the value of the pods' `version` label"),
  subset: z.string().optional().describe('DestinationRule subset for this version (default: the version)'),
  host: z.string().optional().describe('a destination host instead of a subset'),
});

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
    }),
  ],
  { error: 'is not a comparison type; expected proportion, mean or histogram' },
);

const steps = z
  .array(z.number().int('is not a whole percentage').min(1, 'is below 1').max(100, 'is above 100'))
  .min(1, 'is empty; expected rising percentages ending at 100, such as [10, 25, 50, 100]')
  .refine(
    (list) => list.every((w, i) => i === 0 || w > list[i - 1]!),
    'must rise: each step must be larger than the one before',
  )
  .refine((list) => list.at(-1) === 100, 'must end at 100');

export const specSchema = z
  .object({
    model: z.string().min(1, 'is empty; expected the model name'),
    virtualService: z.object({
      name,
      route: z.string().min(1, 'is empty; expected the name of the HTTP route weir owns'),
    }),
    stable: versionRef,
    canary: versionRef,
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
            'A/B: during canary stages, requests with these headers all go to the canary (a route "<route>-weir-canary" weir adds before its own and removes at the end)',
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
        alpha: z.number().gt(0, 'is not above 0').lt(1, 'is not below 1').default(0.05),
        power: z.number().gt(0, 'is not above 0').lt(1, 'is not below 1').default(0.8),
        sequential: z.enum(['msprt', 'obrien-fleming', 'pocock']).default('msprt'),
        samples: promql
          .default(
            'sum(increase(istio_requests_total{destination_version="{{version}}",reporter="destination"}[{{window}}]))',
          )
          .describe('requests served by a version in the stage window'),
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
        samples:
          'sum(increase(istio_requests_total{destination_version="{{version}}",reporter="destination"}[{{window}}]))',
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
  })
  .superRefine((spec, ctx) => {
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
    if (spec.stable.version === spec.canary.version)
      ctx.addIssue({
        code: 'custom',
        path: ['canary', 'version'],
        message: 'is the same as stable.version',
        input: spec.canary.version,
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

export const phases = [
  'Pending',
  'Mirroring',
  'Progressing',
  'AwaitingApproval',
  'Paused',
  'Promoted',
  'RolledBack',
  'Failed',
] as const;

/** A finished rollout keeps its final route (100% for Promoted, 0% otherwise) until `weir retry` starts a new attempt. */
export const FINISHED_PHASES: readonly Phase[] = ['Promoted', 'RolledBack', 'Failed'];

export function isFinished(phase: Phase): boolean {
  return FINISHED_PHASES.includes(phase);
}

const reason = z.object({
  kind: z.enum(['guardrail', 'comparison', 'gate', 'command', 'business', 'rollout']),
  metric: z.string().optional(),
  verdict: z.string(),
  message: z.string(),
  value: z.number().optional(),
  stableValue: z.number().optional(),
  threshold: z.number().optional(),
  effect: z.number().optional(),
  ci: z.array(z.number()).optional(),
  pValue: z.number().optional(),
  adjustedPValue: z.number().optional(),
  z: z.number().optional().describe('comparison: the estimate divided by its standard error'),
  boundary: z
    .number()
    .optional()
    .describe(
      'comparison: the sequential boundary at this look; mSPRT: the alpha the (Holm-adjusted) always-valid p-value must reach; alpha spending: the |z| to cross',
    ),
  samples: z.object({ stable: z.number(), canary: z.number() }).optional(),
});

/** Who did something: a Kubernetes user, user@host, or alertmanager:ALERT. Bounded, since it travels into route records and alerts. */
const actor = z.string().min(1).max(256, 'is longer than 256 characters');
const timestamp = z.string().max(64, 'is longer than 64 characters');

export const commandSchema = z.object({
  id: z.string().min(1).max(128, 'is longer than 128 characters'),
  type: z.enum(['approve', 'abort', 'pause', 'resume', 'promote', 'retry']),
  by: actor.describe('who gave the command: the Kubernetes user, or user@host in local mode'),
  at: timestamp.describe('when it was given (RFC 3339)'),
  full: z.boolean().optional().describe('promote only: straight to 100% and done'),
});

const condition = z.object({
  type: z.string(),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string(),
  message: z.string(),
  lastTransitionTime: z.string(),
});

export const statusSchema = z.object({
  phase: z.enum(phases).default('Pending'),
  attempt: z.number().int().default(1),
  stage: z
    .number()
    .int()
    .default(-1)
    .describe('index into the stages (mirror stage first when configured); -1 before the start'),
  canaryWeight: z.number().int().default(0),
  mirrorPercent: z.number().int().default(0),
  startedAt: z.string().optional(),
  stageStartedAt: z.string().optional(),
  pausedFrom: z.enum(phases).optional(),
  lastStepId: z.string().optional(),
  approvals: z.array(z.object({ stage: z.number().int(), by: actor, at: timestamp })).default([]),
  versions: z
    .object({ stable: versionRef, canary: versionRef })
    .optional()
    .describe(
      "the versions this attempt routes between, recorded when it starts: a spec naming another canary starts a new attempt, and nothing else can move a finished rollout's traffic to another version",
    ),
  consumedCommands: z.array(z.string()).default([]),
  guardrailFailures: z.record(z.string(), z.number().int()).default({}),
  sequential: z
    .record(z.string(), z.record(z.string(), z.unknown()))
    .default({})
    .describe('per-metric sequential test state for the current stage'),
  analysis: z.array(reason).default([]).describe('the reasons of the last decision'),
  history: z
    .array(
      z.object({
        stepId: z.string(),
        action: z.string(),
        stage: z.number().int(),
        canaryWeight: z.number().int(),
        at: z.string(),
        by: z.string().optional(),
        summary: z.string(),
        analysis: z.array(reason).optional().describe('the reasons of the decision this step was taken on'),
      }),
    )
    .default([]),
  message: z.string().optional(),
  commands: z
    .array(commandSchema)
    .max(1000)
    .default([])
    .describe(
      'commands people gave (weir approve, abort, ...) that the controller has not consumed yet (Kubernetes mode)',
    ),
  refusedCommands: z
    .array(z.object({ type: z.string().max(32), by: actor, at: timestamp, reason: z.string().max(1024) }))
    .default([])
    .describe(
      'the latest commands that were refused (such as approve on a rolled-back rollout): who tried what, when, and why (bounded)',
    ),
  conditions: z
    .array(condition)
    .default([])
    .describe(
      'TrafficRouted: whether the VirtualService route, its destinations and subsets exist and carry the weights',
    ),
});

export type ModelRolloutSpec = z.output<typeof specSchema>;
export type ModelRolloutSpecInput = z.input<typeof specSchema>;
export type RolloutStatus = z.output<typeof statusSchema>;
export type Reason = z.output<typeof reason>;
export type Condition = z.output<typeof condition>;
export type Phase = (typeof phases)[number];
export type Guardrail = ModelRolloutSpec['analysis']['guardrails'][number];
export type Comparison = ModelRolloutSpec['analysis']['comparisons'][number];

export interface ModelRollout {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [key: string]: unknown };
  spec: ModelRolloutSpec;
  status?: RolloutStatus;
}

/** A status with every default filled in. */
export function emptyStatus(): RolloutStatus {
  return statusSchema.parse({});
}
