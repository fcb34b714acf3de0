// One look at an experiment over several versions (strategy.experiment): the
// control (stable) and its candidates share live traffic. PURE, like decide():
// guardrails and comparisons take a harmful candidate out; A/B/n keeps a fixed
// split and declares a winner that is significantly better than the control
// and not significantly worse than another candidate; a bandit moves the split
// toward the arm with the best reward each interval and stops when one arm's
// P(best) holds. The winner then takes all traffic, through the approval gate.
import { parseDuration } from '../../../shared/duration.js';
import { formatNumber, formatSplit } from '../../../shared/format.js';
import type { Comparison, ModelRolloutSpec, Reason, RolloutStatus } from '../api/schema.js';
import { judgeGuardrail } from '../analysis/guardrail.js';
import { experimentVersions, type Observations } from '../analysis/observations.js';
import { banditAllocation, estimatedRegret, integerWeights, type ArmEvidence } from '../stats/bandit.js';
import { evaluateFamily, type ComparisonOutcome } from './comparisons.js';
import { checkExperimentSampleRatio } from './sample-ratio.js';

type Experiment = NonNullable<ModelRolloutSpec['strategy']['experiment']>;
type ExperimentState = NonNullable<RolloutStatus['experiment']>;

/** What the look decided; decide() turns it into a step. */
export type ExperimentStep =
  | { kind: 'hold' | 'pause' | 'rollback' | 'await-approval'; summary: string }
  | { kind: 'promote'; winner: string; summary: string };

export interface ExperimentLook {
  spec: ModelRolloutSpec;
  /** Changed in place: weights, failures, sequential state, the experiment's record. */
  status: RolloutStatus;
  reasons: Reason[];
  observations: Observations;
  now: number;
  stageMs: number;
  warming: boolean;
}

/** The weight history kept in status. */
const WEIGHT_HISTORY_LIMIT = 200;

/** An experiment's split before anything is known: spec weights (abn), else even. */
export function initialWeights(spec: ModelRolloutSpec): Record<string, number> {
  const versions = experimentVersions(spec);
  const given = spec.strategy.experiment?.weights;
  if (given) return Object.fromEntries(versions.map((v) => [v, given[v] ?? 0]));
  const even = integerWeights(
    versions.map(() => 1),
    0,
  );
  return Object.fromEntries(versions.map((v, i) => [v, even[i]!]));
}

/** Starts an experiment's record and split (at its start and at a retry or restart). */
export function startExperiment(spec: ModelRolloutSpec, status: RolloutStatus, at: string): void {
  status.experiment = { dropped: [], arms: [] };
  setWeights(status, initialWeights(spec), at, 'experiment started: the initial split');
}

/** Records a new split (and its history) when it differs from the one in force. */
function setWeights(status: RolloutStatus, weights: Record<string, number>, at: string, summary: string): void {
  const before = status.weights;
  if (before && Object.keys(weights).every((v) => before[v] === weights[v])) return;
  status.weights = weights;
  status.weightHistory = [...status.weightHistory, { at, weights, summary }].slice(-WEIGHT_HISTORY_LIMIT);
}

/** A proportion or mean reward per arm, from the reward comparison's counts; undefined without them. */
function rewardOf(look: ExperimentLook, version: string, reward: string): ArmEvidence | undefined {
  const pairs = look.observations.experiment?.pairs ?? [];
  const pair = pairs.find((p) => p.version === version) ?? pairs.find((p) => p.reference === version);
  if (!pair) return undefined;
  const arm = pair.version === version ? 'canary' : 'stable';
  const observed = pair.observations.comparisons.find((c) => c.name === reward);
  if (observed?.type === 'proportion') {
    const sample = observed[arm];
    return sample ? { kind: 'proportion', successes: sample.successes, trials: sample.trials } : undefined;
  }
  if (observed?.type === 'mean') {
    const sample = observed[arm];
    return sample ? { kind: 'mean', n: sample.n, mean: sample.mean, variance: sample.sd * sample.sd } : undefined;
  }
  return undefined;
}

/** One look at a running experiment: see the file's header. */
export function experimentLook(look: ExperimentLook): ExperimentStep {
  const { spec, status, reasons, now, warming } = look;
  const experiment: Experiment = spec.strategy.experiment!;
  const at = new Date(now).toISOString();
  const versions = experimentVersions(spec);
  const control = versions[0]!;
  const state: ExperimentState = (status.experiment ??= { dropped: [], arms: [] });
  if (!status.weights) setWeights(status, initialWeights(spec), at, 'the initial split');
  const inForce = { ...status.weights! };
  const droppedNow: string[] = [];
  const isDropped = (v: string) => state.dropped.some((d) => d.version === v) || droppedNow.includes(v);
  const drop = (version: string, reason: string) => {
    if (isDropped(version)) return;
    droppedNow.push(version);
    state.dropped = [...state.dropped, { version, at, reason }];
    reasons.push({ kind: 'rollout', verdict: 'dropped', message: `${version} taken out of the experiment: ${reason}` });
  };
  const pairObservations = (reference: string, version: string) =>
    look.observations.experiment?.pairs.find((p) => p.reference === reference && p.version === version)?.observations;

  // Guardrails, each candidate on its own; the control is production and only compared against.
  const failures = { ...status.guardrailFailures };
  let guardrailsPass = true;
  for (const version of versions.slice(1).filter((v) => !isDropped(v))) {
    const observed = pairObservations(control, version);
    for (const configured of spec.analysis.guardrails) {
      const guardrail = warming
        ? { ...configured, maxRatio: undefined, minRatio: undefined, maxIncrease: undefined, maxDecrease: undefined }
        : configured;
      if (warming && guardrail.min === undefined && guardrail.max === undefined) continue;
      const judgement = judgeGuardrail(
        guardrail,
        observed?.guardrails.find((g) => g.name === guardrail.name) ?? {
          name: guardrail.name,
          canary: undefined,
          stable: undefined,
        },
      );
      const key = `${version}/${guardrail.name}`;
      if (judgement.verdict === 'pass') failures[key] = 0;
      else if (judgement.verdict !== 'nodata') failures[key] = (failures[key] ?? 0) + 1;
      if (judgement.verdict !== 'pass') guardrailsPass = false;
      reasons.push({
        kind: 'guardrail',
        metric: guardrail.name,
        version,
        ...judgement,
        message: `${version}: ${judgement.message.replace(/\bcanary\b/, version)}${judgement.verdict === 'high' || judgement.verdict === 'low' ? ` (failure ${failures[key]} of ${guardrail.failureLimit})` : ''}`,
      });
      if ((failures[key] ?? 0) >= guardrail.failureLimit)
        drop(version, `guardrail ${guardrail.name} failed ${failures[key]} time(s) in a row`);
    }
  }
  status.guardrailFailures = failures;

  // Sample ratio: the requests each version served against the split in force.
  const ratio = warming
    ? undefined
    : checkExperimentSampleRatio(spec, status.sampleRatio, inForce, look.observations.experiment?.samples ?? {}, now);
  if (ratio) {
    if (ratio.record) status.sampleRatio = ratio.record;
    reasons.push(ratio.reason);
    if (ratio.detected) {
      const { onMismatch } = spec.analysis.sampleRatio;
      if (onMismatch === 'rollback') return { kind: 'rollback', summary: `rolled back: ${ratio.reason.message}` };
      if (onMismatch === 'pause')
        return {
          kind: 'pause',
          summary: `paused on a sample ratio mismatch: ${ratio.reason.message}. Find why, then weir resume (a new period is judged) or weir abort`,
        };
    }
  }

  // Every candidate against the control, corrected across candidates × comparisons.
  const judged = versions.slice(1).filter((v) => !isDropped(v));
  const outcomes = new Map<string, ComparisonOutcome[]>();
  if (!warming && !ratio?.detected && judged.length > 0) {
    const family = evaluateFamily(
      spec,
      judged.map((version) => ({
        observations: pairObservations(control, version)?.comparisons ?? [],
        sequential: stateOf(status, version),
        version,
        reference: control,
      })),
    );
    judged.forEach((version, i) => {
      outcomes.set(version, family[i]!);
      keepState(status, version, family[i]!);
      for (const outcome of family[i]!)
        reasons.push({ ...outcome.reason, version, message: `${version}: ${outcome.reason.message}` });
      const harmful = family[i]!.find((o) => o.verdict === 'harmful');
      if (harmful) drop(version, harmful.reason.message);
    });
  }
  const active = versions.slice(1).filter((v) => !isDropped(v));
  if (active.length === 0)
    return {
      kind: 'rollback',
      summary: `rolled back: every candidate was taken out (${state.dropped.map((d) => `${d.version}: ${d.reason}`).join('; ')})`,
    };

  // The split: A/B/n keeps its own and gives a dropped candidate's share to the control; a bandit
  // follows the reward, its dropped arms at 0.
  const inPlay = [control, ...active];
  let winner: string | undefined;
  let leading: string | undefined;
  const blockers: string[] = [];
  if (experiment.type === 'abn') {
    const base = initialWeights(spec);
    const weights = Object.fromEntries(versions.map((v) => [v, isDropped(v) ? 0 : base[v]!]));
    weights[control] = 100 - Object.entries(weights).reduce((sum, [v, w]) => sum + (v === control ? 0 : w), 0);
    if (droppedNow.length > 0)
      setWeights(status, weights, at, `${droppedNow.join(', ')} taken out: ${formatSplit(weights)}`);
    state.arms = versions.map((version) => ({ version, weight: status.weights![version] ?? 0 }));
    ({ winner, leading } = abnWinner(look, active, outcomes, blockers));
  } else {
    ({ winner, leading } = banditLook(look, experiment, inPlay, versions, blockers));
  }
  state.leader = leading;
  if (!winner) {
    if (now - Date.parse(status.startedAt!) >= parseDuration(spec.strategy.maxDuration)) {
      const { onInconclusive } = spec.strategy;
      reasons.push({
        kind: 'rollout',
        verdict: 'inconclusive',
        message: `no winner within maxDuration ${spec.strategy.maxDuration}; onInconclusive: ${onInconclusive}`,
      });
      if (onInconclusive === 'pause')
        return { kind: 'pause', summary: 'paused at maxDuration without a winner (onInconclusive: pause)' };
      if (onInconclusive === 'promote' && leading)
        return {
          kind: 'promote',
          winner: leading,
          summary: `promoted ${leading}, the leader at maxDuration (onInconclusive: promote)`,
        };
      return { kind: 'rollback', summary: `rolled back at maxDuration: no winner (onInconclusive: ${onInconclusive})` };
    }
    if (look.stageMs < parseDuration(spec.strategy.minStageDuration))
      blockers.unshift(`stage time ${Math.floor(look.stageMs / 1000)}s of ${spec.strategy.minStageDuration}`);
    if (warming) blockers.unshift('warming up (comparisons start after it)');
    if (ratio?.detected) blockers.push('sample ratio mismatch: comparisons are not judged');
    if (!guardrailsPass) blockers.push('guardrails not all passing');
    const summary = `experiment ${formatSplit(status.weights!)}: ${blockers.join('; ') || 'no winner yet'}`;
    reasons.push({ kind: 'gate', verdict: 'hold', message: summary });
    return { kind: 'hold', summary };
  }
  state.winner = winner;
  if (spec.strategy.approvals.includes(100) && !status.approvals.some((a) => a.stage === 1)) {
    const message = `${winner} won; 100% needs approval: weir approve`;
    reasons.push({ kind: 'gate', verdict: 'await-approval', message });
    return { kind: 'await-approval', summary: `awaiting approval for the winner ${winner} at 100%` };
  }
  const approval = status.approvals.find((a) => a.stage === 1);
  return {
    kind: 'promote',
    winner,
    summary: `promoted the winner ${winner}${winner === control ? ' (the control)' : ''}${approval ? ` (approved by ${approval.by})` : ''}`,
  };
}

/**
 * The sequential state of one member of a comparison family, by comparison
 * name: a candidate against the control ("v2") or two candidates ("v2~v3").
 * status.sequential keeps them all under "<member>/<comparison>".
 */
function stateOf(status: RolloutStatus, member: string): Record<string, Record<string, unknown>> {
  const prefix = `${member}/`;
  return Object.fromEntries(
    Object.entries(status.sequential)
      .filter(([key]) => key.startsWith(prefix))
      .map(([key, state]) => [key.slice(prefix.length), state]),
  );
}

/** Keeps each outcome's sequential state for the next look, under its member (see stateOf). */
function keepState(status: RolloutStatus, member: string, outcomes: ComparisonOutcome[]): void {
  for (const o of outcomes) if (o.state) status.sequential = { ...status.sequential, [`${member}/${o.name}`]: o.state };
}

/**
 * A/B/n's winner: a candidate significantly better than the control on every
 * primary comparison, no comparison worse, and not significantly worse than
 * another candidate on a primary comparison (each two candidates compared with
 * the same always-valid test, corrected across their pairs). Among several,
 * the one with the largest effect on the first primary comparison.
 */
function abnWinner(
  look: ExperimentLook,
  active: string[],
  outcomes: Map<string, ComparisonOutcome[]>,
  blockers: string[],
): { winner: string | undefined; leading: string | undefined } {
  const { spec, status, reasons } = look;
  const primary = spec.analysis.comparisons.filter((c) => c.role === 'primary');
  const effect = (v: string) => outcomes.get(v)?.find((o) => o.name === primary[0]?.name)?.reason.effect;
  const sign = (c: Comparison) => (c.better === 'higher' ? 1 : -1);
  const ranked = [...active].sort((a, b) => sign(primary[0]!) * ((effect(b) ?? -Infinity) - (effect(a) ?? -Infinity)));
  const leading = ranked.find((v) => effect(v) !== undefined);
  const qualified = ranked.filter((v) => {
    const own = outcomes.get(v) ?? [];
    const unproven = own.filter((o) => o.role === 'primary' && o.verdict !== 'better');
    const worse = own.filter((o) => o.verdict === 'worse' || o.verdict === 'nodata' || o.verdict === 'insufficient');
    if (unproven.length > 0 || worse.length > 0) {
      blockers.push(
        `${v}: ${[...unproven, ...worse.filter((o) => !unproven.includes(o))].map((o) => `${o.name} ${o.verdict}`).join(', ')}`,
      );
      return false;
    }
    return true;
  });
  const samples = look.observations.experiment?.samples ?? {};
  const short = [spec.stable.version, ...active].filter((v) => (samples[v] ?? 0) < spec.strategy.minSamplesPerStage);
  if (short.length > 0) {
    blockers.push(`samples below ${spec.strategy.minSamplesPerStage} for ${short.join(', ')}`);
    return { winner: undefined, leading };
  }
  if (qualified.length === 0 || look.stageMs < parseDuration(spec.strategy.minStageDuration))
    return { winner: undefined, leading };
  // Candidates against each other on the primary comparisons: the earlier in the spec is the reference.
  const versions = experimentVersions(spec);
  const pairs = look.observations.experiment?.pairs.filter(
    (p) => p.reference !== versions[0] && active.includes(p.reference) && active.includes(p.version),
  );
  const members = (pairs ?? []).map((p) => ({
    observations: p.observations.comparisons.filter((c) => primary.some((x) => x.name === c.name)),
    sequential: stateOf(status, `${p.reference}~${p.version}`),
    version: p.version,
    reference: p.reference,
  }));
  const primaryOnly = { ...spec, analysis: { ...spec.analysis, comparisons: primary } };
  const between = members.length > 0 ? evaluateFamily(primaryOnly, members) : [];
  const beaten = new Set<string>();
  between.forEach((family, i) => {
    const { reference, version } = members[i]!;
    keepState(status, `${reference}~${version}`, family);
    for (const o of family) {
      // Significantly apart either way: the one behind is beaten ('better': the later version is ahead).
      if (o.verdict === 'better') beaten.add(reference);
      else if (o.verdict === 'harmful' || o.verdict === 'worse' || o.verdict === 'negligible') beaten.add(version);
      else continue;
      reasons.push({ ...o.reason, message: `${version} against ${reference}: ${o.reason.message}` });
    }
  });
  const winner = qualified.find((v) => !beaten.has(v));
  if (!winner)
    blockers.push(`${qualified.join(', ')} better than the control, but not yet apart from another candidate`);
  return { winner, leading };
}

/**
 * A bandit's look: the reward per arm, the next split (banditAllocation, once
 * the warm-up is over), P(best) and estimated regret per arm, and the stop rule:
 * the arm whose P(best) has held stopProbability for `sustain` wins.
 */
function banditLook(
  look: ExperimentLook,
  experiment: Experiment,
  inPlay: string[],
  versions: string[],
  blockers: string[],
): { winner: string | undefined; leading: string | undefined } {
  const { status, now, warming } = look;
  const state = status.experiment!;
  const at = new Date(now).toISOString();
  const evidence = inPlay.map((v) => rewardOf(look, v, experiment.reward!));
  if (warming || evidence.some((e) => e === undefined)) {
    // No reward yet for every arm (or the warm-up): the split in force stays; a dropped arm still leaves.
    const weights = { ...status.weights! };
    const freed = versions.filter((v) => !inPlay.includes(v) && (weights[v] ?? 0) > 0);
    if (freed.length > 0) {
      for (const v of freed) {
        weights[versions[0]!] = (weights[versions[0]!] ?? 0) + weights[v]!;
        weights[v] = 0;
      }
      setWeights(status, weights, at, `${freed.join(', ')} taken out: ${formatSplit(weights)}`);
    }
    blockers.push(warming ? 'warming up' : `waiting for the reward ${experiment.reward} from every arm`);
    state.arms = versions.map((version) => ({ version, weight: status.weights![version] ?? 0 }));
    return { winner: undefined, leading: state.leader };
  }
  const arms = evidence as ArmEvidence[];
  const allocation = banditAllocation(arms, {
    algorithm: experiment.algorithm,
    floor: experiment.floor,
    burnIn: experiment.burnIn ?? 100 * versions.length,
    c: experiment.c,
    epsilon: experiment.epsilon,
    leaderShare: experiment.leaderShare,
  });
  const rewards = arms.map((a) => (a.kind === 'proportion' ? a.trials : a.n));
  const means = arms.map((a) => (a.kind === 'proportion' ? (a.trials > 0 ? a.successes / a.trials : 0) : a.mean));
  const regret = estimatedRegret(means.map((mean, i) => ({ mean, n: rewards[i]! })));
  const weights = Object.fromEntries(versions.map((v) => [v, 0]));
  inPlay.forEach((v, i) => (weights[v] = allocation.weights[i]!));
  setWeights(
    status,
    weights,
    at,
    `${allocation.adapting ? experiment.algorithm : 'burn-in (even split)'}: ${formatSplit(weights)}`,
  );
  state.adapting = allocation.adapting;
  state.arms = versions.map((version) => {
    const i = inPlay.indexOf(version);
    return i < 0
      ? { version, weight: 0 }
      : {
          version,
          weight: weights[version]!,
          rewards: rewards[i]!,
          mean: means[i]!,
          pBest: allocation.pBest[i]!,
          regret: regret[i]!,
        };
  });
  const best = allocation.pBest.indexOf(Math.max(...allocation.pBest));
  const leader = inPlay[best]!;
  const pBest = allocation.pBest[best]!;
  look.reasons.push({
    kind: 'rollout',
    metric: experiment.reward!,
    verdict: allocation.adapting ? 'adapting' : 'burn-in',
    message: `bandit (${experiment.algorithm}): ${inPlay.map((v, i) => `${v} ${formatNumber(means[i]!, 4)} over ${rewards[i]} (P(best) ${formatNumber(allocation.pBest[i]!, 3)})`).join(', ')}; next split ${formatSplit(weights)}`,
  });
  const holds = allocation.adapting && pBest >= experiment.stopProbability;
  if (!holds || state.leader !== leader) delete state.leaderSince;
  if (holds) state.leaderSince ??= at;
  const sustainMs = parseDuration(experiment.sustain);
  const heldMs = state.leaderSince ? now - Date.parse(state.leaderSince) : 0;
  if (holds && heldMs >= sustainMs && look.stageMs >= parseDuration(look.spec.strategy.minStageDuration))
    return { winner: leader, leading: leader };
  blockers.push(
    holds
      ? `${leader} holds P(best) ${formatNumber(pBest, 3)} ≥ ${experiment.stopProbability} for ${Math.floor(heldMs / 1000)}s of ${experiment.sustain}`
      : `leader ${leader} at P(best) ${formatNumber(pBest, 3)}; the bandit stops once one arm holds ${experiment.stopProbability} for ${experiment.sustain}${allocation.adapting ? '' : ` (burn-in: ${rewards.reduce((a, b) => a + b, 0)} of ${experiment.burnIn ?? 100 * versions.length} rewards)`}`,
  );
  return { winner: undefined, leading: leader };
}
