// Kubernetes-style status conditions: one per type; lastTransitionTime moves only
// when the status flips.
import type { Condition } from '../api/schema.js';

/** The conditions with `next` set; the same array when nothing changed. */
export function setCondition(
  conditions: Condition[],
  next: Omit<Condition, 'lastTransitionTime'>,
  now: number,
): Condition[] {
  const current = conditions.find((c) => c.type === next.type);
  if (current && current.status === next.status && current.reason === next.reason && current.message === next.message)
    return conditions;
  const lastTransitionTime =
    current && current.status === next.status ? current.lastTransitionTime : new Date(now).toISOString();
  return [...conditions.filter((c) => c.type !== next.type), { ...next, lastTransitionTime }];
}
