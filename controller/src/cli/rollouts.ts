// The rollout commands: get, status, history, and the commands people give
// (approve, abort, pause, resume, promote, retry). Local mode reads the folder
// of the file store (--local DIR); Kubernetes mode will use the same names.
import os from 'node:os';
import { Command } from 'commander';
import type { ModelRollout } from '../api/schema.js';
import type { CommandType } from '../engine/types.js';
import { FileRolloutStore } from '../providers/file/store.js';
import type { StoredRollout } from '../providers/types.js';

interface Common {
  local?: string;
  json?: boolean;
  as?: string;
}

function storeFor(options: Common): FileRolloutStore {
  if (!options.local) throw new RangeError('--local <dir> is required: the folder of ModelRollout files (Kubernetes mode is not available yet)');
  return new FileRolloutStore(options.local);
}

/** Who gives a command: --as, or the OS user at this host. */
function actor(options: Common): string {
  return options.as ?? `${os.userInfo().username}@${os.hostname()}`;
}

function age(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '-';
  const s = Math.max(0, Math.floor((now - Date.parse(iso)) / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.floor(s / 60)}m` : `${Math.floor(s / 3600)}h`;
}

function columns(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

function statusText({ rollout, commands }: StoredRollout): string {
  const s = rollout.status!;
  const lines = [
    `${rollout.metadata.name}: ${s.phase}, ${rollout.spec.stable.version} → ${rollout.spec.canary.version}, canary ${s.canaryWeight}%${s.mirrorPercent ? ` (mirror ${s.mirrorPercent}%)` : ''}, stage ${s.stage} of ${rollout.spec.strategy.steps.join('/')}`,
    `  started ${age(s.startedAt)} ago, this stage ${age(s.stageStartedAt)} ago, attempt ${s.attempt}`,
  ];
  if (s.message) lines.push(`  ${s.message}`);
  for (const r of s.analysis.filter((x) => x.kind !== 'gate')) lines.push(`  ${r.kind} ${r.metric ?? ''}: ${r.message}`);
  for (const a of s.approvals) lines.push(`  approved stage ${a.stage} by ${a.by} at ${a.at}`);
  for (const c of commands) lines.push(`  pending command: ${c.type}${c.full ? ' --full' : ''} by ${c.by} at ${c.at}`);
  return lines.join('\n');
}

const TERMINAL = ['Promoted', 'RolledBack', 'Failed'];

export function registerRolloutCommands(program: Command): void {
  const withLocal = (command: Command) => command.option('--local <dir>', 'folder of ModelRollout YAML files (local mode)').option('--json', 'print JSON');

  const get = program.command('get').description('list resources');
  withLocal(get.command('rollouts').description('list ModelRollouts with their phase and canary weight')).action(async (options: Common) => {
    const all = await storeFor(options).list();
    if (options.json) return void process.stdout.write(`${JSON.stringify(all.map((s) => ({ name: s.rollout.metadata.name, ...s.rollout.status })))}\n`);
    const rows = [['NAME', 'MODEL', 'STABLE', 'CANARY', 'PHASE', 'WEIGHT', 'AGE']];
    for (const { rollout } of all) {
      const s = rollout.status!;
      rows.push([rollout.metadata.name, rollout.spec.model, rollout.spec.stable.version, rollout.spec.canary.version, s.phase, `${s.canaryWeight}%`, age(s.startedAt)]);
    }
    process.stdout.write(`${all.length === 0 ? `no rollouts in ${options.local}` : columns(rows)}\n`);
  });

  withLocal(program.command('status').argument('<name>', 'rollout name').description('show a rollout: phase, weights, verdicts, approvals, pending commands'))
    .option('--watch', 'refresh every 2 s until the rollout finishes (Ctrl-C to stop)')
    .action(async (name: string, options: Common & { watch?: boolean }) => {
      const store = storeFor(options);
      for (;;) {
        const stored = await store.get(name);
        if (options.json) process.stdout.write(`${JSON.stringify({ name, status: stored.rollout.status, pendingCommands: stored.commands })}\n`);
        else process.stdout.write(`${options.watch && process.stdout.isTTY ? '\x1b[H\x1b[2J' : ''}${statusText(stored)}\n`);
        if (!options.watch || TERMINAL.includes(stored.rollout.status!.phase)) return;
        await new Promise((resolve) => setTimeout(resolve, 2000));
      }
    });

  withLocal(program.command('history').argument('<name>', 'rollout name').description('every step a rollout took: when, what, and who')).action(async (name: string, options: Common) => {
    const { rollout } = await storeFor(options).get(name);
    const history = rollout.status!.history;
    if (options.json) return void process.stdout.write(`${JSON.stringify(history)}\n`);
    const rows = [['AT', 'ACTION', 'STAGE', 'WEIGHT', 'BY', 'SUMMARY']];
    for (const h of history) rows.push([h.at, h.action, String(h.stage), `${h.canaryWeight}%`, h.by ?? '-', h.summary]);
    process.stdout.write(`${history.length === 0 ? `${name} has no history yet` : columns(rows)}\n`);
  });

  const give = (type: CommandType, description: string, extra?: (c: Command) => Command) => {
    let command = withLocal(program.command(type).argument('<name>', 'rollout name').description(description)).option('--as <who>', 'who gives the command (default: user@host)');
    if (extra) command = extra(command);
    command.action(async (name: string, options: Common & { full?: boolean }) => {
      const store = storeFor(options);
      const { rollout }: { rollout: ModelRollout } = await store.get(name);
      const recorded = await store.addCommand(name, { type, by: actor(options), at: new Date().toISOString(), ...(options.full ? { full: true } : {}) });
      if (options.json) return void process.stdout.write(`${JSON.stringify(recorded)}\n`);
      process.stdout.write(`${type}${options.full ? ' --full' : ''} recorded for ${name} (${rollout.status!.phase}, canary ${rollout.status!.canaryWeight}%) by ${recorded.by}; the controller applies it at its next reconcile\n`);
    });
  };
  give('approve', 'approve the stage a rollout is waiting at');
  give('abort', 'roll back now: all traffic to stable');
  give('pause', 'hold the rollout where it is');
  give('resume', 'continue a paused rollout');
  give('promote', 'skip the current stage (with --full: go to 100% and finish)', (c) => c.option('--full', 'promote fully: 100% and done'));
  give('retry', 'start a rolled-back rollout again from the first stage');
}
