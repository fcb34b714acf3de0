// The ModelRollout's status: where a rollout stands (phase, stage, weights),
// its history and last analysis, the commands people gave, and the conditions.
// With spec.ts's schema, the source of the CRD's OpenAPI schema.
import { z } from 'zod';
import { versionRef } from './version-ref.js';

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

/** Whether a phase is finished (Promoted, RolledBack, Failed). */
export function isFinished(phase: Phase): boolean {
  return FINISHED_PHASES.includes(phase);
}

const reason = z.object({
  kind: z.enum(['guardrail', 'comparison', 'sample-ratio', 'gate', 'command', 'business', 'rollout']),
  metric: z.string().optional(),
  version: z.string().optional().describe('experiments: the version this reason judges (against the control)'),
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
  margin: z
    .number()
    .optional()
    .describe('comparison: the non-inferiority margin the stage gate waits on, in the units of the effect'),
  nonInferior: z
    .boolean()
    .optional()
    .describe('comparison: whether the interval shows the canary is not worse than the margin (the stage gate)'),
  minimum: z
    .object({ needed: z.number(), have: z.number(), what: z.string() })
    .optional()
    .describe("comparison: the evidence its test's approximation needs before it may act, and what there is"),
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
  baselineWeight: z
    .number()
    .int()
    .optional()
    .describe("the baseline's share (spec.baseline), the canary's while traffic is split"),
  weights: z
    .record(z.string(), z.number().int())
    .optional()
    .describe("experiments: each version's weight in force, whole percent summing to 100"),
  weightHistory: z
    .array(z.object({ at: timestamp, weights: z.record(z.string(), z.number().int()), summary: z.string().max(1024) }))
    .default([])
    .describe('experiments: every change of the split, oldest first (the latest 200)'),
  experiment: z
    .object({
      winner: z.string().optional().describe('the version that won and takes (or took) all traffic'),
      leader: z.string().optional().describe('bandit: the arm with the highest P(best) at the last look'),
      leaderSince: timestamp.optional().describe('bandit: since when the leader has held stopProbability'),
      adapting: z.boolean().optional().describe('bandit: whether the burn-in is over and the split follows the reward'),
      dropped: z
        .array(z.object({ version: z.string(), at: timestamp, reason: z.string().max(1024) }))
        .default([])
        .describe('candidates taken out of the experiment (a guardrail tripped or a comparison found harm)'),
      arms: z
        .array(
          z.object({
            version: z.string(),
            weight: z.number().int(),
            rewards: z.number().optional().describe('bandit: the rewards counted (labelled predictions)'),
            mean: z.number().optional().describe('bandit: the mean reward'),
            pBest: z.number().optional().describe('P(this arm has the highest reward) under the posteriors'),
            regret: z.number().optional().describe('estimated regret so far: rewards × (best mean − this mean)'),
          }),
        )
        .default([])
        .describe('each version at the last look'),
    })
    .optional()
    .describe('strategy.experiment: where the experiment stands'),
  startedAt: z.string().optional(),
  stageStartedAt: z.string().optional(),
  pausedFrom: z.enum(phases).optional(),
  lastStepId: z.string().optional(),
  approvals: z.array(z.object({ stage: z.number().int(), by: actor, at: timestamp })).default([]),
  versions: z
    .object({ stable: versionRef, canary: versionRef, candidates: z.array(versionRef).optional() })
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
  sampleRatio: z
    .object({
      versions: z
        .array(z.string())
        .describe('the versions judged: the reference (stable or the baseline), then the canary'),
      weights: z.array(z.number()).describe('the weights in force, in the same order'),
      observed: z.array(z.number()).describe('requests each served in the current period'),
      expected: z.array(z.number()).describe('what the weights predict (empty until there is enough traffic)'),
      test: z
        .enum(['sequential', 'chi-squared'])
        .describe('the test whose p-value decides (spec.analysis.sampleRatio.test)'),
      pValue: z.number().optional().describe("that test's p-value"),
      chiSquaredP: z.number().optional().describe('the chi-squared goodness-of-fit p-value at this look'),
      sequentialP: z
        .number()
        .optional()
        .describe(
          "the always-valid sequential p-value (Lindon & Malek 2022): the running minimum over this period's looks",
        ),
      detected: z.boolean().describe('p below spec.analysis.sampleRatio.threshold'),
      counts: z.array(z.number()).describe("the stage window's counts at the last check"),
      changedAt: timestamp
        .optional()
        .describe(
          'experiments: when the split last moved by more than 5 points; its requests are judged once it has held for max(3 intervals, 30 s)',
        ),
      since: z
        .array(z.number())
        .optional()
        .describe('the counts when the current period began (weir resume after a mismatch starts a new one)'),
    })
    .optional()
    .describe(
      "the last sample-ratio check of this stage: do the requests each version served match the route's weights?",
    ),
  analysis: z.array(reason).default([]).describe('the reasons of the last decision'),
  history: z
    .array(
      z.object({
        stepId: z.string(),
        action: z.string(),
        stage: z.number().int(),
        canaryWeight: z.number().int(),
        weights: z
          .record(z.string(), z.number().int())
          .optional()
          .describe("experiments: each version's weight after this step"),
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

export type RolloutStatus = z.output<typeof statusSchema>;
export type Reason = z.output<typeof reason>;
export type Condition = z.output<typeof condition>;
export type Phase = (typeof phases)[number];

/** A status with every default filled in. */
export function emptyStatus(): RolloutStatus {
  return statusSchema.parse({});
}
