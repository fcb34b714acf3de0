// The rollout state machine. PURE: (spec, status, observations, commands, now)
// → decision. No I/O, no clock, no randomness: the same inputs always give the
// same decision. Every rule of the rollout lives here once.
import { parseDuration } from '../../../shared/duration.js';
import { formatNumber, formatSplit } from '../../../shared/format.js';
import {
  candidateVersions,
  isFinished,
  type ModelRolloutSpec,
  type Reason,
  type RolloutStatus,
} from '../api/schema.js';
import { judgeGuardrail } from '../analysis/guardrail.js';
import type { Observations } from '../analysis/observations.js';
import { samplesEta } from '../stats/sample-size.js';
import { commandRefusal, REFUSALS_KEPT } from './commands.js';
import { evaluateComparisons } from './comparisons.js';
import { experimentRouteOf, routeOf } from './route.js';
import { experimentLook, startExperiment } from './experiment.js';
import { checkSampleRatio, restartSampleRatio } from './sample-ratio.js';
import { stagesOf, warmupState, type Stage } from './stages.js';
import type { Action, AppliedStep, Command, Decision } from './types.js';

export interface EngineInput {
  spec: ModelRolloutSpec;
  status: RolloutStatus;
  observations: Observations;
  /** Commands not yet consumed are applied in order; consumed ones are skipped. */
  commands: Command[];
  /** Milliseconds since the epoch. */
  now: number;
  /** Requests per second reaching the model, for the ETA (optional). */
  trafficRate?: number;
  /** The step the router says it applied last (see AppliedStep): a rollback there that status lacks is completed first. */
  applied?: AppliedStep;
}

const HISTORY_LIMIT = 100;

const iso = (ms: number) => new Date(ms).toISOString();

/** The one decision for a rollout now: commands first (refused when the phase cannot take them), then start, guardrails, comparisons, maxDuration and the stage's gates. Pure: the same input always gives the same decision. */
export function decide(input: EngineInput): Decision {
  const { spec, now } = input;
  const stages = stagesOf(spec);
  let status: RolloutStatus = structuredClone(input.status);
  const reasons: Reason[] = [];

  const consumed: string[] = [];
  const finish = (action: Action, summary: string, by?: string, at = iso(now)): Decision => {
    // The route follows from the phase and stage alone, so no path can give a finished rollout other weights.
    Object.assign(
      status,
      spec.strategy.experiment ? experimentRouteOf(spec, status) : routeOf(status, stages, spec.baseline !== undefined),
    );
    if (!spec.baseline) delete status.baselineWeight;
    if (!spec.strategy.experiment) {
      delete status.weights;
      delete status.experiment;
    }
    const stepId = `a${status.attempt}-s${status.stage}-${status.phase.toLowerCase()}`;
    const changed = action !== 'hold' && status.lastStepId !== stepId;
    if (changed) {
      status.history = [
        ...status.history,
        {
          stepId,
          action,
          stage: status.stage,
          canaryWeight: status.canaryWeight,
          ...(status.weights ? { weights: status.weights } : {}),
          at,
          ...(by ? { by } : {}),
          summary,
          analysis: reasons.filter((r) => r.kind !== 'gate'),
        },
      ].slice(-HISTORY_LIMIT);
    }
    status.lastStepId = stepId;
    // A finished rollout that only holds keeps the reasons and message it finished with.
    if (!(action === 'hold' && isFinished(status.phase))) {
      status.analysis = reasons;
      status.message = summary;
    }
    const attemptOf = { attempt: status.attempt, ...(status.startedAt ? { startedAt: status.startedAt } : {}) };
    const applied: AppliedStep = changed
      ? { ...attemptOf, stepId, action, at, ...(by ? { by } : {}), summary, consumed }
      : input.applied?.stepId === stepId
        ? input.applied
        : { ...attemptOf, stepId, action, at, summary, consumed: [] };
    return {
      action,
      stage: status.stage,
      canaryWeight: status.canaryWeight,
      mirrorPercent: status.mirrorPercent,
      ...(status.baselineWeight !== undefined ? { baselineWeight: status.baselineWeight } : {}),
      ...(status.weights ? { weights: status.weights } : {}),
      stepId,
      reasons,
      statusPatch: status,
      applied,
    };
  };
  const enterStage = (index: number) => {
    status.stage = index;
    status.stageStartedAt = iso(now);
    status.phase = stages[index]!.kind === 'mirror' ? 'Mirroring' : 'Progressing';
    status.sequential = {};
    status.guardrailFailures = {};
    delete status.sampleRatio;
    if (spec.strategy.experiment && index === 0) startExperiment(spec, status, iso(now));
  };
  const rollback = (summary: string, by?: string, at?: string) => {
    status.phase = 'RolledBack';
    return finish('rollback', summary, by, at);
  };
  const promote = (summary: string, by?: string) => {
    // An experiment promoted by a person gives all traffic to its leader (the canary before there is one).
    if (spec.strategy.experiment && status.experiment && !status.experiment.winner)
      status.experiment.winner = status.experiment.leader ?? spec.canary.version;
    status.phase = 'Promoted';
    status.stage = stages.length - 1;
    return finish('promote', summary, by);
  };

  // A rollback the router applied but status never recorded (its write failed) is
  // completed as it was decided, not decided again: observations may have changed
  // since, and traffic must not go back to a canary weir rolled back.
  const applied = input.applied;
  if (
    applied?.action === 'rollback' &&
    applied.attempt === status.attempt &&
    applied.startedAt === status.startedAt &&
    status.startedAt !== undefined &&
    !isFinished(status.phase)
  ) {
    status.consumedCommands = [
      ...status.consumedCommands,
      ...applied.consumed.filter((id) => !status.consumedCommands.includes(id)),
    ].slice(-200);
    consumed.push(...applied.consumed);
    reasons.push({
      kind: 'rollout',
      verdict: 'recovered',
      message: `completing rollback ${applied.stepId} decided at ${applied.at}: the route carries it, status did not record it`,
    });
    return rollback(applied.summary, applied.by, applied.at);
  }

  // The versions this attempt routes between. A spec that names another canary is a new
  // release: the attempt ends and a new one starts at stage 0, as a changed pod template
  // starts a new rollout in Argo Rollouts. Nothing else can move a finished rollout's
  // traffic to another version (a changed stable alone is recorded, not a restart, so a
  // rolled-back canary never gets traffic back that way).
  const versions = {
    stable: spec.stable,
    canary: spec.canary,
    ...(spec.candidates?.length ? { candidates: spec.candidates } : {}),
  };
  const sameCandidates = (a: typeof spec.candidates = [], b: typeof spec.candidates = []) =>
    a.length === b.length && a.every((ref, i) => sameVersion(ref, b[i]!));
  if (
    status.versions &&
    (!sameVersion(status.versions.canary, spec.canary) || !sameCandidates(status.versions.candidates, spec.candidates))
  ) {
    const before = `${status.versions.stable.version} → ${candidateVersions(status.versions).join(', ')}`;
    status = {
      ...status,
      attempt: status.attempt + 1,
      startedAt: iso(now),
      approvals: [],
      pausedFrom: undefined,
      versions,
    };
    enterStage(0);
    reasons.push({
      kind: 'rollout',
      verdict: 'restarted',
      message: `spec.canary changed (${before} is now ${spec.stable.version} → ${candidateVersions(spec).join(', ')}): attempt ${status.attempt} starts at stage 0`,
    });
    return finish(
      'advance',
      `new canary ${spec.canary.version}: attempt ${status.attempt} starts at stage 0 (${describeStage(stages[0]!)})`,
    );
  }
  status.versions = versions;

  // Commands, oldest first, each once. One the rollout cannot take is refused and recorded.
  for (const command of input.commands) {
    if (status.consumedCommands.includes(command.id)) continue;
    status.consumedCommands = [...status.consumedCommands, command.id].slice(-200);
    consumed.push(command.id);
    const who = `${command.type}${command.full ? ' --full' : ''} by ${command.by}`;
    const refusal = commandRefusal(status.phase, command.type);
    if (refusal) {
      status.refusedCommands = [
        ...status.refusedCommands,
        { type: command.type, by: command.by, at: command.at, reason: refusal },
      ].slice(-REFUSALS_KEPT);
      reasons.push({ kind: 'command', verdict: 'refused', message: `${who} at ${command.at} refused: ${refusal}` });
      continue;
    }
    reasons.push({ kind: 'command', verdict: command.type, message: `${who} at ${command.at}` });
    if (command.type === 'retry') {
      status = { ...status, attempt: status.attempt + 1, startedAt: iso(now), approvals: [], pausedFrom: undefined };
      enterStage(0);
      return finish('advance', `retry: attempt ${status.attempt} starts at stage 0 (${who})`, command.by);
    }
    if (command.type === 'abort') return rollback(`aborted (${who})`, command.by);
    if (command.type === 'pause') {
      status.pausedFrom = status.phase;
      status.phase = 'Paused';
      return finish('pause', `paused (${who})`, command.by);
    }
    if (command.type === 'resume') {
      status.phase = status.pausedFrom ?? 'Progressing';
      status.pausedFrom = undefined;
      status.sampleRatio = restartSampleRatio(status.sampleRatio);
      if (!status.sampleRatio) delete status.sampleRatio;
    }
    if (command.type === 'approve')
      status.approvals = [...status.approvals, { stage: status.stage + 1, by: command.by, at: command.at }];
    if (command.type === 'promote') {
      if (command.full || status.stage >= stages.length - 2) return promote(`promoted to 100% (${who})`, command.by);
      enterStage(Math.max(0, status.stage + 1));
      return finish(
        'advance',
        `stage ${status.stage} (${stages[status.stage]!.weight}%) by promote (${who})`,
        command.by,
      );
    }
  }

  if (isFinished(status.phase)) return finish('hold', status.message ?? `rollout ${status.phase.toLowerCase()}`);
  if (status.phase === 'Paused') return finish('pause', 'paused; `weir resume` continues');

  // Start.
  if (status.stage < 0 || !status.startedAt || !status.stageStartedAt) {
    status.startedAt = iso(now);
    enterStage(0);
    reasons.push({
      kind: 'rollout',
      verdict: 'started',
      message: `started: ${spec.stable.version} → ${candidateVersions(spec).join(', ')}`,
    });
    return finish(
      'advance',
      spec.strategy.experiment
        ? `started the ${spec.strategy.experiment.type === 'abn' ? 'A/B/n experiment' : `bandit (${spec.strategy.experiment.algorithm})`}: ${formatSplit(status.weights ?? {})}`
        : `started at stage 0 (${describeStage(stages[0]!)})`,
    );
  }

  const stage = stages[status.stage]!;
  const stageMs = now - Date.parse(status.stageStartedAt);
  // Warm-up: a version just started or just given new load is not compared cold. Absolute
  // guardrail bounds act at once (a crashing canary must not wait); the rest waits.
  const { warming } = warmupState(stage.warmupMs, stageMs);

  if (spec.strategy.experiment) {
    const step = experimentLook({ spec, status, reasons, observations: input.observations, now, stageMs, warming });
    if (step.kind === 'rollback') return rollback(step.summary);
    if (step.kind === 'promote') {
      status.experiment!.winner = step.winner;
      return promote(step.summary, status.approvals.find((a) => a.stage === 1)?.by);
    }
    if (step.kind === 'pause') {
      status.pausedFrom = status.phase;
      status.phase = 'Paused';
      return finish('pause', step.summary);
    }
    if (step.kind === 'await-approval') {
      status.phase = 'AwaitingApproval';
      return finish('await-approval', step.summary);
    }
    // A winner that no longer holds no longer awaits approval.
    if (status.phase === 'AwaitingApproval') status.phase = 'Progressing';
    return finish('hold', step.summary);
  }

  // Guardrails: consecutive failures per guardrail; nodata neither fails nor passes.
  let guardrailsPass = true;
  const failures = { ...status.guardrailFailures };
  for (const configured of spec.analysis.guardrails) {
    // At 100% stable takes no traffic, and in warm-up the canary is cold: only absolute bounds are judged.
    const absoluteOnly = stage.weight === 100 || warming;
    const guardrail = absoluteOnly
      ? { ...configured, maxRatio: undefined, minRatio: undefined, maxIncrease: undefined, maxDecrease: undefined }
      : configured;
    if (guardrail.min === undefined && guardrail.max === undefined && absoluteOnly) continue;
    const judgement = judgeGuardrail(
      guardrail,
      input.observations.guardrails.find((g) => g.name === guardrail.name) ?? {
        name: guardrail.name,
        canary: undefined,
        stable: undefined,
      },
    );
    if (judgement.verdict === 'pass') failures[guardrail.name] = 0;
    else if (judgement.verdict !== 'nodata') failures[guardrail.name] = (failures[guardrail.name] ?? 0) + 1;
    if (judgement.verdict !== 'pass') guardrailsPass = false;
    reasons.push({
      kind: 'guardrail',
      metric: guardrail.name,
      ...judgement,
      message: `${judgement.message}${judgement.verdict === 'high' || judgement.verdict === 'low' ? ` (failure ${failures[guardrail.name]} of ${guardrail.failureLimit})` : ''}`,
    });
  }
  status.guardrailFailures = failures;
  const tripped = spec.analysis.guardrails.find((g) => (failures[g.name] ?? 0) >= g.failureLimit);
  if (tripped)
    return rollback(`rolled back: guardrail ${tripped.name} failed ${failures[tripped.name]} time(s) in a row`);

  // Sample ratio: while traffic is split, the requests each version served must follow the weights,
  // or no comparison of them can be trusted (a version dropping or diverting requests before they
  // are counted, a cohort landing on one version).
  const split = stage.kind === 'canary' && stage.weight < 100;
  const ratio =
    split && !warming
      ? checkSampleRatio(spec, status.sampleRatio, stage.weight, input.observations.samples)
      : undefined;
  if (ratio) {
    if (ratio.record) status.sampleRatio = ratio.record;
    reasons.push(ratio.reason);
  }
  if (ratio?.detected) {
    const { onMismatch } = spec.analysis.sampleRatio;
    if (onMismatch === 'rollback') return rollback(`rolled back: ${ratio.reason.message}`);
    if (onMismatch === 'pause') {
      status.pausedFrom = status.phase;
      status.phase = 'Paused';
      return finish(
        'pause',
        `paused on a sample ratio mismatch: ${ratio.reason.message}. Find why, then weir resume (a new period is judged) or weir abort`,
      );
    }
  }

  // Comparisons run while both versions take traffic (unpaired), and in the mirror stage, where the
  // shadow and stable answered the same requests (paired: McNemar, paired mean).
  const mirroring = stage.kind === 'mirror';
  const outcomes =
    (split || mirroring) && !warming && !ratio?.detected
      ? evaluateComparisons(spec, input.observations.comparisons, status.sequential, mirroring ? 'paired' : 'split')
      : [];
  for (const outcome of outcomes) {
    reasons.push(outcome.reason);
    if (outcome.state) status.sequential = { ...status.sequential, [outcome.name]: outcome.state };
  }
  const harmful = outcomes.find((o) => o.verdict === 'harmful');
  if (harmful) return rollback(`rolled back: ${harmful.reason.message}`);

  // maxDuration: end with the configured action.
  if (now - Date.parse(status.startedAt) >= parseDuration(spec.strategy.maxDuration)) {
    reasons.push({
      kind: 'rollout',
      verdict: 'inconclusive',
      message: `no decision within maxDuration ${spec.strategy.maxDuration}; onInconclusive: ${spec.strategy.onInconclusive}`,
    });
    if (spec.strategy.onInconclusive === 'promote') return promote('promoted at maxDuration (onInconclusive: promote)');
    if (spec.strategy.onInconclusive === 'pause') {
      status.pausedFrom = status.phase;
      status.phase = 'Paused';
      return finish('pause', 'paused at maxDuration (onInconclusive: pause)');
    }
    return rollback('rolled back at maxDuration (onInconclusive: rollback)');
  }

  // Gates for leaving this stage.
  const blockers: string[] = [];
  if (stageMs < stage.minDurationMs)
    blockers.push(`stage time ${Math.floor(stageMs / 1000)}s of ${Math.ceil(stage.minDurationMs / 1000)}s`);
  if (warming)
    blockers.push(
      `warming up ${Math.floor(stageMs / 1000)}s of ${Math.ceil(stage.warmupMs / 1000)}s (comparisons${spec.baseline ? ` against baseline ${spec.baseline.version}` : ''} and relative guardrails start after it)`,
    );
  const need = stage.kind === 'canary' ? spec.strategy.minSamplesPerStage : 0;
  const samples = input.observations.samples;
  const counted = { stable: samples.stable ?? 0, canary: samples.canary ?? 0 };
  const stableNeeded = stage.weight < 100 ? need : 0;
  // In warm-up samples are not counted yet: the warm-up blocker says why the stage waits.
  if (!warming && (counted.canary < need || counted.stable < stableNeeded)) {
    const eta = input.trafficRate
      ? samplesEta(
          need,
          { stable: stage.weight < 100 ? counted.stable : need, canary: counted.canary },
          input.trafficRate,
          stage.weight,
        )
      : undefined;
    blockers.push(
      `samples ${Math.floor(counted.stable)}/${Math.floor(counted.canary)} of ${need} per version${eta !== undefined && Number.isFinite(eta) ? ` (ETA ${Math.ceil(eta)}s)` : ''}`,
    );
  }
  if (mirroring && outcomes.length > 0) {
    // minSamplesPerStage counts labelled pairs here: the fewest any paired comparison has.
    const pairs = Math.min(...outcomes.map((o) => o.reason.samples?.canary ?? 0));
    if (pairs < spec.strategy.minSamplesPerStage)
      blockers.push(`labelled pairs ${pairs} of ${spec.strategy.minSamplesPerStage}`);
  }
  if (ratio?.detected)
    blockers.push(`sample ratio mismatch (p = ${formatNumber(ratio.reason.pValue!)}): comparisons are not judged`);
  if (!guardrailsPass) blockers.push('guardrails not all passing (no data counts as not passing)');
  const worse = outcomes.filter((o) => o.verdict === 'worse' || o.verdict === 'nodata' || o.verdict === 'insufficient');
  if (worse.length > 0) blockers.push(`comparisons ${worse.map((o) => `${o.name} ${o.verdict}`).join(', ')}`);
  // Leaving a stage takes positive evidence: the interval shows the canary is not worse than the margin.
  const unshown = outcomes.filter((o) => !o.nonInferior && !worse.includes(o));
  if (unshown.length > 0)
    blockers.push(
      `not yet shown non-inferior: ${unshown.map((o) => `${o.name} (CI ${o.reason.ci!.map((v) => v.toPrecision(3)).join(' to ')}, margin ${o.reason.margin})`).join(', ')}`,
    );
  const next = stages[status.stage + 1];
  if (next && next.weight === 100) {
    const unproven = outcomes.filter((o) => o.role === 'primary' && o.verdict !== 'better');
    if (unproven.length > 0)
      blockers.push(
        `primary ${unproven.map((o) => `${o.name} ${o.verdict}`).join(', ')}: the canary must be significantly better before it gets 100%`,
      );
  }
  if (blockers.length > 0) {
    reasons.push({
      kind: 'gate',
      verdict: 'hold',
      message: `holding at ${describeStage(stage)}: ${blockers.join('; ')}`,
    });
    return finish('hold', `holding at ${describeStage(stage)}: ${blockers.join('; ')}`);
  }

  if (!next) return promote(`promoted: ${spec.canary.version} passed every stage`);
  if (
    spec.strategy.approvals.includes(next.weight) &&
    next.kind === 'canary' &&
    !status.approvals.some((a) => a.stage === next.index)
  ) {
    status.phase = 'AwaitingApproval';
    reasons.push({
      kind: 'gate',
      verdict: 'await-approval',
      message: `stage ${next.index} (${next.weight}%) needs approval: weir approve`,
    });
    return finish('await-approval', `awaiting approval for ${next.weight}%`);
  }
  const approval = status.approvals.find((a) => a.stage === next.index);
  enterStage(next.index);
  return finish(
    'advance',
    `advanced to ${describeStage(next)}${approval ? ` (approved by ${approval.by})` : ''}`,
    approval?.by,
  );
}

/** Whether two version references route to the same destination. */
function sameVersion(a: ModelRolloutSpec['canary'], b: ModelRolloutSpec['canary']): boolean {
  return (
    a.version === b.version && (a.subset ?? a.version) === (b.subset ?? b.version) && (a.host ?? '') === (b.host ?? '')
  );
}

function describeStage(stage: Stage): string {
  return stage.kind === 'mirror' ? `mirror ${stage.mirrorPercent}%` : `${stage.weight}%`;
}
