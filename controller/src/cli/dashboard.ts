// `weir dashboard`: the web UI for the rollouts in a local store or the kube
// context (dashboard/server.ts), on loopback by default, with a token for
// every action printed at start.
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { createLogger } from '../../../shared/log.js';
import { DashboardServer } from '../dashboard/server.js';
import { open, withStore, type Common } from './rollouts.js';

export interface DashboardCliOptions extends Common {
  port: number;
  address: string;
  prometheus?: string;
  refresh: number;
}

function port(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError(`"${text}" is not a port; expected a whole number from 0 to 65535`);
  return n;
}

function refresh(text: string): number {
  const n = Number(text);
  if (!(n >= 0.2 && n <= 60)) throw new InvalidArgumentError(`"${text}" is not between 0.2 and 60 seconds`);
  return n * 1000;
}

/** Starts the dashboard for these options; resolves with its URL (with the token) and the server. */
export async function startDashboard(
  options: Common & { port?: number; address?: string; prometheus?: string; refreshMs?: number },
): Promise<{ url: string; token: string; server: DashboardServer }> {
  const rollouts = open(options);
  const token = randomBytes(24).toString('hex');
  const server = new DashboardServer({
    rollouts: {
      list: () => rollouts.list(),
      get: (key) => rollouts.byKey.get(key),
      addCommand: (key, command) => rollouts.byKey.addCommand(key, command),
      actor: () => rollouts.actor(),
      where: rollouts.where,
      mode: rollouts.mode,
    },
    token,
    log: createLogger('dashboard', 'warn', (line) => process.stderr.write(line)),
    ...(options.prometheus ? { prometheus: options.prometheus } : {}),
    ...(options.refreshMs ? { refreshMs: options.refreshMs } : {}),
  });
  const url = await server.listen(options.port ?? 0, options.address ?? '127.0.0.1');
  return { url, token, server };
}

/** Adds `weir dashboard`. */
export function registerDashboardCommand(program: Command): void {
  withStore(
    program
      .command('dashboard')
      .description(
        'serve a live web UI of the rollouts: where each stands and what it waits for, its verdicts, charts and history, and buttons for approve, pause, resume, abort, promote and retry',
      ),
  )
    .option('-A, --all-namespaces', 'show rollouts in every namespace')
    .option('--port <n>', 'port to listen on (0: any free one)', port, 3410)
    .option(
      '--address <ip>',
      'address to listen on; keep the loopback default unless something in front checks who connects',
      '127.0.0.1',
    )
    .option('--as <who>', 'local mode: who the actions are recorded as (default: user@host)')
    .option('--prometheus <url>', "Prometheus for the full report's time series (default: WEIR_PROMETHEUS_URL)")
    .option('--refresh <seconds>', 'how often to look for changes while a page is open', refresh, 1000)
    .addHelpText(
      'after',
      [
        '',
        'Identity: in Kubernetes mode the dashboard acts with your own kube credentials, so RBAC decides',
        '(the weir-approver ClusterRole grants commands) and a refusal shows the API server’s words. In local',
        'mode actions are recorded as user@host (or --as). Either way every action needs the token printed',
        'at start, sent in a header: open the printed URL, which carries it, or paste it into the page.',
        '',
        'Examples:',
        '  weir dashboard --local rollouts/             # the local store, on http://127.0.0.1:3410/',
        '  weir dashboard -n models --context prod      # a namespace of a cluster, as you',
        '  weir dashboard -A --port 0                   # every namespace, any free port',
      ].join('\n'),
    )
    .action(async (options: DashboardCliOptions & { refresh: number }) => {
      const prometheus = options.prometheus ?? process.env.WEIR_PROMETHEUS_URL;
      const { url, token, server } = await startDashboard({
        ...options,
        refreshMs: options.refresh,
        ...(prometheus ? { prometheus } : {}),
      });
      process.stdout.write(
        `weir dashboard on ${url}\nopen ${url}#token=${token}\n(the token, needed for every action: ${token})\nCtrl-C to stop\n`,
      );
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.close();
    });
}
