// The rollout commands: get, status, history, and the commands people give
// (approve, abort, pause, resume, promote, retry). Local mode reads the folder
// of the file store (--local DIR); otherwise they work on the current kube
// context, as kubectl does, and RBAC decides who may give commands.
import os from 'node:os';
import { Command } from 'commander';
import { createLogger } from '../../../shared/log.js';
import { candidateVersions, isFinished } from '../api/schema.js';
import type { Command as CommandRecord, CommandType } from '../engine/types.js';
import { FileRolloutStore } from '../providers/file/store.js';
import { contextNamespace, loadKubeConfig } from '../providers/kube/client.js';
import { KubeRolloutStore } from '../providers/kube/store.js';
import { whoami } from '../providers/kube/whoami.js';
import type { RolloutListing, RolloutStore, StoredRollout } from '../providers/types.js';
import { formatNumber, formatSplit } from '../../../shared/format.js';
import { sleep } from '../../../shared/wait.js';
import { UsageError } from '../../../shared/errors.js';

export interface Common {
  local?: string;
  json?: boolean;
  as?: string;
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  allNamespaces?: boolean;
}

/** What the commands need from either store, addressed by rollout name. */
interface Rollouts {
  list(): Promise<RolloutListing>;
  get(name: string): Promise<StoredRollout>;
  addCommand(name: string, command: Omit<CommandRecord, 'id'>): Promise<CommandRecord>;
  /** Who gives a command. */
  actor(): Promise<string>;
  /** Where the rollouts are, for messages. */
  where: string;
  /** How a stored rollout is named in output. */
  label(stored: StoredRollout): string;
  /** The same calls by the store's key (a name locally, namespace/name in Kubernetes), for the dashboard. */
  byKey: Pick<RolloutStore, 'get' | 'addCommand'>;
  mode: 'local' | 'kubernetes';
}

/** The options every command that reads rollouts takes. */
export const withStore = (command: Command) =>
  command
    .option('--local <dir>', 'folder of ModelRollout YAML files (local mode); without it, the current kube context')
    .option('-n, --namespace <ns>', "namespace (default: the kube context's)")
    .option('--kubeconfig <file>', 'kubeconfig (default: KUBECONFIG, ~/.kube/config, or in-cluster)')
    .option('--context <name>', 'kubeconfig context (default: current-context)')
    .option('--json', 'print JSON');

/** The rollouts the CLI options name: a local folder (--local) or the current kube context. */
export function open(options: Common): Rollouts {
  if (options.local) {
    const store = new FileRolloutStore(options.local);
    return {
      list: () => store.list(),
      get: (name) => store.get(name),
      addCommand: (name, command) => store.addCommand(name, command),
      actor: async () => options.as ?? `${os.userInfo().username}@${os.hostname()}`,
      where: options.local,
      label: (s) => s.rollout.metadata.name,
      byKey: store,
      mode: 'local',
    };
  }
  if (options.as)
    throw new UsageError('--as is for local mode; against a cluster the user the API server knows you as is recorded');
  const kc = loadKubeConfig({
    ...(options.kubeconfig ? { kubeconfig: options.kubeconfig } : {}),
    ...(options.context ? { context: options.context } : {}),
  });
  const namespace = options.namespace ?? contextNamespace(kc);
  const store = new KubeRolloutStore(kc, {
    namespaces: options.allNamespaces ? [] : [namespace],
    log: createLogger('weir', 'error'),
  });
  return {
    list: () => store.listFromServer(),
    get: (name) => store.get(`${namespace}/${name}`),
    addCommand: async (name, command) => store.addCommand(`${namespace}/${name}`, command),
    actor: async () => (await whoami(kc)).user,
    where: options.allNamespaces ? 'any namespace' : `namespace ${namespace}`,
    label: (s) => (options.allNamespaces ? s.key : s.rollout.metadata.name),
    // A key outside the namespace asked for is refused, not reached: RBAC would judge it, but it was not offered.
    byKey: options.allNamespaces
      ? store
      : {
          get: (key) => store.get(inNamespace(key, namespace)),
          addCommand: (key, command) => store.addCommand(inNamespace(key, namespace), command),
        },
    mode: 'kubernetes',
  };
}

function inNamespace(key: string, namespace: string): string {
  if (!key.startsWith(`${namespace}/`))
    throw new UsageError(
      `rollout ${key} is not in namespace ${namespace}, the one asked for (-A shows every namespace)`,
    );
  return key;
}

function age(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '-';
  const s = Math.max(0, Math.floor((now - Date.parse(iso)) / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.floor(s / 60)}m` : `${Math.floor(s / 3600)}h`;
}

function columns(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** An experiment's split, "v1 34%, v2 33%, v3 33%", or the canary's weight. */
function weightsText(rollout: StoredRollout['rollout']): string {
  const s = rollout.status!;
  return s.weights ? formatSplit(s.weights) : `${s.canaryWeight}%`;
}

function statusText({ rollout, commands }: StoredRollout): string {
  const s = rollout.status!;
  const experiment = rollout.spec.strategy.experiment;
  const name = `${rollout.metadata.name}${rollout.metadata.namespace && rollout.metadata.namespace !== 'local' ? ` (namespace ${rollout.metadata.namespace})` : ''}`;
  const lines = [
    experiment
      ? `${name}: ${s.phase}, ${experiment.type === 'abn' ? 'A/B/n experiment' : `bandit (${experiment.algorithm} on ${experiment.reward})`}, control ${rollout.spec.stable.version}, split ${weightsText(rollout)}${s.experiment?.winner ? `, winner ${s.experiment.winner}` : ''}`
      : `${name}: ${s.phase}, ${rollout.spec.stable.version} → ${rollout.spec.canary.version}, canary ${s.canaryWeight}%${s.mirrorPercent ? ` (mirror ${s.mirrorPercent}%)` : ''}, stage ${s.stage} of ${rollout.spec.strategy.steps.join('/')}`,
    `  started ${age(s.startedAt)} ago, this stage ${age(s.stageStartedAt)} ago, attempt ${s.attempt}`,
  ];
  for (const arm of s.experiment?.arms ?? [])
    if (arm.pBest !== undefined)
      lines.push(
        `  arm ${arm.version}: weight ${arm.weight}%, mean reward ${formatNumber(arm.mean ?? NaN, 4)} over ${arm.rewards}, P(best) ${formatNumber(arm.pBest, 3)}, estimated regret ${formatNumber(arm.regret ?? 0, 3)}`,
      );
  for (const d of s.experiment?.dropped ?? []) lines.push(`  taken out: ${d.version} at ${d.at}: ${d.reason}`);
  for (const h of s.weightHistory.slice(-5)) lines.push(`  split at ${h.at}: ${h.summary}`);
  if (s.message) lines.push(`  ${s.message}`);
  for (const r of s.analysis.filter((x) => x.kind !== 'gate'))
    lines.push(`  ${r.kind} ${r.metric ?? ''}: ${r.message}`);
  for (const a of s.approvals) lines.push(`  approved stage ${a.stage} by ${a.by} at ${a.at}`);
  for (const c of s.conditions.filter((x) => x.status !== 'True'))
    lines.push(`  condition ${c.type}=${c.status} (${c.reason}): ${c.message}`);
  for (const c of commands) lines.push(`  pending command: ${c.type}${c.full ? ' --full' : ''} by ${c.by} at ${c.at}`);
  for (const r of s.refusedCommands.slice(-5)) lines.push(`  refused: ${r.type} by ${r.by} at ${r.at}: ${r.reason}`);
  return lines.join('\n');
}

/** Adds `weir get rollouts`, `status`, `history` and the commands people give (approve, abort, pause, resume, promote, retry). */
export function registerRolloutCommands(program: Command): void {
  const get = program.command('get').description('list resources');
  withStore(get.command('rollouts').description('list ModelRollouts with their phase and canary weight'))
    .option('-A, --all-namespaces', 'list in every namespace')
    .action(async (options: Common) => {
      const rollouts = open(options);
      const { rollouts: all, invalid } = await rollouts.list();
      if (options.json) {
        const listed = [
          ...all.map((s) => ({
            name: s.rollout.metadata.name,
            namespace: s.rollout.metadata.namespace,
            ...s.rollout.status,
          })),
          ...invalid.map((i) => ({
            name: i.metadata?.name ?? i.key,
            namespace: i.metadata?.namespace,
            phase: 'Invalid',
            invalid: i.reason,
          })),
        ];
        return void process.stdout.write(`${JSON.stringify(listed)}\n`);
      }
      const rows = [['NAME', 'MODEL', 'STABLE', 'CANARY', 'PHASE', 'WEIGHT', 'AGE']];
      for (const stored of all) {
        const { rollout } = stored;
        const s = rollout.status!;
        rows.push([
          rollouts.label(stored),
          rollout.spec.model,
          rollout.spec.stable.version,
          candidateVersions(rollout.spec).join(','),
          s.phase,
          weightsText(rollout),
          age(s.startedAt),
        ]);
      }
      // An invalid rollout is listed too, so nobody mistakes it for a missing one; the controller skips it.
      for (const i of invalid)
        rows.push([options.allNamespaces || !i.metadata ? i.key : i.metadata.name, '-', '-', '-', 'Invalid', '-', '-']);
      const reasons = invalid.map((i) => `invalid ${i.key}: ${i.reason}`);
      process.stdout.write(
        `${all.length + invalid.length === 0 ? `no rollouts in ${rollouts.where}` : columns(rows)}\n${reasons.map((r) => `${r}\n`).join('')}`,
      );
    });

  withStore(
    program
      .command('status')
      .argument('<name>', 'rollout name')
      .description('show a rollout: phase, weights, verdicts, approvals, conditions, pending commands'),
  )
    .option('--watch', 'refresh every 2 s until the rollout finishes (Ctrl-C to stop)')
    .action(async (name: string, options: Common & { watch?: boolean }) => {
      const rollouts = open(options);
      for (;;) {
        const stored = await rollouts.get(name);
        if (options.json)
          process.stdout.write(
            `${JSON.stringify({ name, status: stored.rollout.status, pendingCommands: stored.commands })}\n`,
          );
        else
          process.stdout.write(
            `${options.watch && process.stdout.isTTY ? '\x1b[H\x1b[2J' : ''}${statusText(stored)}\n`,
          );
        if (!options.watch || isFinished(stored.rollout.status!.phase)) return;
        await sleep(2000);
      }
    });

  withStore(
    program
      .command('history')
      .argument('<name>', 'rollout name')
      .description('every step a rollout took: when, what, and who'),
  ).action(async (name: string, options: Common) => {
    const { rollout } = await open(options).get(name);
    const history = rollout.status!.history;
    if (options.json) return void process.stdout.write(`${JSON.stringify(history)}\n`);
    const rows = [['AT', 'ACTION', 'STAGE', 'WEIGHT', 'BY', 'SUMMARY']];
    for (const h of history)
      rows.push([
        h.at,
        h.action,
        String(h.stage),
        h.weights
          ? Object.entries(h.weights)
              .map(([v, w]) => `${v}=${w}`)
              .join(',')
          : `${h.canaryWeight}%`,
        h.by ?? '-',
        h.summary,
      ]);
    process.stdout.write(`${history.length === 0 ? `${name} has no history yet` : columns(rows)}\n`);
  });

  const give = (type: CommandType, description: string, extra?: (c: Command) => Command) => {
    let command = withStore(program.command(type).argument('<name>', 'rollout name').description(description)).option(
      '--as <who>',
      'local mode: who gives the command (default: user@host)',
    );
    if (extra) command = extra(command);
    command.addHelpText(
      'after',
      "\nA command the rollout's phase cannot take is refused: nothing changes, the refusal (who, what, why) is recorded in\nits status (weir status shows it), and weir exits with code 4. A finished rollout takes only `weir retry` (after a rollback).\nIn a cluster this updates the ModelRollout's status subresource: the weir-approver ClusterRole grants it.",
    );
    command.action(async (name: string, options: Common & { full?: boolean }) => {
      const rollouts = open(options);
      const { rollout } = await rollouts.get(name);
      // The store checks the phase and records the command, or the refusal, in one atomic write.
      const recorded = await rollouts.addCommand(name, {
        type,
        by: await rollouts.actor(),
        at: new Date().toISOString(),
        ...(options.full ? { full: true } : {}),
      });
      if (options.json) return void process.stdout.write(`${JSON.stringify(recorded)}\n`);
      process.stdout.write(
        `${type}${options.full ? ' --full' : ''} recorded for ${name} (${rollout.status!.phase}, canary ${rollout.status!.canaryWeight}%) by ${recorded.by}; the controller applies it at its next reconcile\n`,
      );
    });
  };
  give('approve', 'approve the stage a rollout is waiting at');
  give('abort', 'roll back now: all traffic to stable');
  give('pause', 'hold the rollout where it is');
  give('resume', 'continue a paused rollout');
  give('promote', 'skip the current stage (with --full: go to 100% and finish)', (c) =>
    c.option('--full', 'promote fully: 100% and done'),
  );
  give('retry', 'start a rolled-back rollout again from the first stage');
}
