// Which rollout writes a route. Two ModelRollouts that name the same
// VirtualService route would overwrite each other's weights every round (each
// sets its own versions and gives the others 0), so exactly one owns it:
// - a live rollout (not finished) before any finished one; among live ones,
//   the one that started first (not started yet: last), then by name;
// - when all are finished, the one that finished last: its final route
//   (0% or 100% of its canary) is the one level-triggering keeps.
// The others never write the route: a live one waits (TrafficRouted=False,
// RouteInUse), a finished one only takes commands. Pure.
import { isFinished } from '../api/schema.js';
import type { StoredRollout } from '../providers/types.js';

/** For each rollout whose route another rollout owns: that owner's key. Rollouts that own their route are absent. */
export function routeOwners(rollouts: readonly StoredRollout[], defaultNamespace: string): Map<string, string> {
  const byRoute = new Map<string, StoredRollout[]>();
  for (const stored of rollouts) {
    const { metadata, spec } = stored.rollout;
    const route = `${metadata.namespace ?? defaultNamespace}/${spec.virtualService.name}/${spec.virtualService.route}`;
    byRoute.set(route, [...(byRoute.get(route) ?? []), stored]);
  }
  const owners = new Map<string, string>();
  for (const sharing of byRoute.values()) {
    if (sharing.length < 2) continue;
    const owner = [...sharing].sort(precedence)[0]!;
    for (const other of sharing) if (other !== owner) owners.set(other.key, owner.key);
  }
  return owners;
}

/** Live before finished; live by start time (unstarted last); finished by last step, newest first; then by key. */
function precedence(a: StoredRollout, b: StoredRollout): number {
  const sa = a.rollout.status!;
  const sb = b.rollout.status!;
  const fa = isFinished(sa.phase);
  const fb = isFinished(sb.phase);
  if (fa !== fb) return fa ? 1 : -1;
  if (!fa) {
    const ta = sa.startedAt ? Date.parse(sa.startedAt) : Infinity;
    const tb = sb.startedAt ? Date.parse(sb.startedAt) : Infinity;
    if (ta !== tb) return ta - tb;
  } else {
    const ea = Date.parse(sa.history.at(-1)?.at ?? '') || 0;
    const eb = Date.parse(sb.history.at(-1)?.at ?? '') || 0;
    if (ea !== eb) return eb - ea;
  }
  return a.key.localeCompare(b.key);
}
