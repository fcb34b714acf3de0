// The AppliedStep record as routers store it next to the weights (a
// VirtualService annotation, the local gateway's route): encoded as bounded
// JSON, decoded with validation, since anyone who can edit the route can
// write there too.
import { z } from 'zod';
import type { AppliedStep } from './types.js';

const SUMMARY_LIMIT = 1000;
const CONSUMED_LIMIT = 50;

const appliedStepSchema = z.object({
  attempt: z.number().int().min(1),
  startedAt: z.string().max(64).optional(),
  rollout: z.string().max(300).optional(),
  stepId: z.string().max(200),
  action: z.enum(['advance', 'hold', 'rollback', 'await-approval', 'promote', 'pause']),
  at: z.string().max(64),
  by: z.string().max(512).optional(),
  summary: z.string().max(SUMMARY_LIMIT + 1),
  consumed: z.array(z.string().max(200)).max(CONSUMED_LIMIT),
});

/** The record trimmed to the bounds routers store (so no author or summary can make the route write fail). */
export function boundedStep(step: AppliedStep): AppliedStep {
  return {
    ...step,
    ...(step.by !== undefined ? { by: step.by.slice(0, 512) } : {}),
    summary: step.summary.length > SUMMARY_LIMIT ? `${step.summary.slice(0, SUMMARY_LIMIT)}…` : step.summary,
    consumed: step.consumed.slice(-CONSUMED_LIMIT).map((id) => id.slice(0, 200)),
  };
}

/** A stored record, or undefined when there is none or it is not one weir wrote. */
export function parseAppliedStep(value: unknown): AppliedStep | undefined {
  const parsed = appliedStepSchema.safeParse(value);
  if (!parsed.success) return undefined;
  const { by, startedAt, rollout, ...rest } = parsed.data;
  return {
    ...rest,
    ...(startedAt !== undefined ? { startedAt } : {}),
    ...(rollout !== undefined ? { rollout } : {}),
    ...(by !== undefined ? { by } : {}),
  };
}
