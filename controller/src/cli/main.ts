// `weir`: the command-line interface: the analyst's statistics, rollout commands,
// reports, the controller, the local gateway, the demo and file generation.
import { Command } from 'commander';
import { runDemo } from './demo.js';
import { SCENARIOS, type ScenarioName } from '../local/demo/scenario.js';
import { runValidate } from './validate.js';
import { registerAnalystCommands } from './analyst.js';
import { runGateway, type GatewayCommandOptions } from './gateway.js';
import { registerRolloutCommands } from './rollouts.js';
import { registerDashboardCommand } from './dashboard.js';
import { registerReportCommand } from './report.js';
import { registerGenerateCommand } from './generate.js';
import { runController, SHARD_LABEL, type ControllerCommandOptions } from './controller.js';
import { KubeError } from '../providers/kube/client.js';
import { CommandRefusedError, InvalidRolloutError } from '../providers/types.js';
import { UsageError } from '../../../shared/errors.js';

/** commander's collector for an option given several times. */
const repeatable = (value: string, list: string[]) => [...list, value];

const program = new Command('weir')
  .description(
    'weir ships ML model versions safely: canary stages judged by guardrails and champion-vs-challenger statistics.',
  )
  .version('0.1.0', '-V, --version', 'print the weir version')
  .helpOption('-h, --help', 'show help for weir or for a command')
  .showHelpAfterError('(run weir --help for the commands)');

program
  .command('demo')
  .description(
    'run a full canary rollout on this machine: predictors, the gateway, real Prometheus and Alertmanager, load with ground truth, and the controller',
  )
  .option(
    '--scenario <name>',
    `which canary: ${Object.entries(SCENARIOS)
      .map(([n, v]) => `${n} (${v})`)
      .join(', ')}`,
    'good',
  )
  .option('--json', 'print only one JSON line at the end')
  .option(
    '--baseline',
    "judge the canary against a baseline: two more predictors of v1's model (v1-baseline), started with the canary and given its share, as Kayenta does, instead of against the warm, busy v1",
  )
  .option(
    '--dashboard [port]',
    'also serve the live web UI (weir dashboard) on this port (default 3410; 0: any free one) and print its address',
  )
  .option(
    '--report <file>',
    'where to write the experiment report (.html, or .md for Markdown)',
    'weir-report-<scenario>.html',
  )
  .addHelpText(
    'after',
    '\nExamples:\n  weir demo                      # v1 → v2, promoted; report in weir-report-good.html\n  weir demo --scenario slow      # v1 → v4 (+40 ms), rolled back\n  weir demo --scenario shadow    # v2 shadowed first (scored on the same requests), then the canary\n  weir demo --scenario bad-shadow # v3 rejected while shadowed: no user request ever reaches it\n  weir demo --baseline           # v2 judged against a fresh baseline of v1, not the warm v1\n  weir demo --scenario srm       # half the requests for v2 diverted to v1: the sample-ratio check pauses the rollout\n  weir demo --scenario abn       # A/B/n: v1 control, v2 and v3 candidates on an even split; v2 wins\n  weir demo --scenario bandit    # Thompson bandit over v1, v2, v3 on accuracy: the split converges on v2\n  weir demo --scenario blue-green # v2 scored on mirrored traffic, then all traffic switched at once; v1 kept ready 10 s\n  weir demo --scenario bad-accuracy --json --report /tmp/bad.md',
  )
  .action(
    async (options: {
      scenario: string;
      json?: boolean;
      baseline?: boolean;
      report: string;
      dashboard?: true | string;
    }) => {
      if (!(options.scenario in SCENARIOS))
        program.error(
          `--scenario: "${options.scenario}" is not a scenario; expected ${Object.keys(SCENARIOS).join(', ')}`,
        );
      if (options.baseline && (options.scenario === 'abn' || options.scenario === 'bandit'))
        program.error(
          `--baseline: does not apply to the ${options.scenario} scenario; an experiment judges every candidate against the control v1 on the same split`,
        );
      const port = options.dashboard === undefined || options.dashboard === true ? 3410 : Number(options.dashboard);
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        program.error(
          `--dashboard: "${String(options.dashboard)}" is not a port; expected a whole number from 0 to 65535`,
        );
      const result = await runDemo(options.scenario as ScenarioName, {
        json: options.json === true,
        reportPath: options.report.replace('<scenario>', options.scenario),
        baseline: options.baseline === true,
        ...(options.dashboard !== undefined ? { dashboard: { port } } : {}),
      });
      process.exitCode = result.failedRequests === 0 ? 0 : 1;
    },
  );

program
  .command('validate')
  .argument('<file>', 'YAML or JSON file with one or more ModelRollout documents')
  .description(
    'check ModelRollout files: silent with exit 0 when valid; otherwise one line per problem naming the field, the bad value and what is allowed, and exit 1. Documents of other API groups in the file (a Deployment, a DestinationRule) are passed over',
  )
  .action(async (file: string) => {
    process.exitCode = await runValidate(file);
  });

registerAnalystCommands(program);
registerRolloutCommands(program);
registerReportCommand(program);
registerDashboardCommand(program);
registerGenerateCommand(program);

program
  .command('controller')
  .description(
    'run the controller: reconcile every ModelRollout on its analysis interval; serves /metrics, /healthz, /readyz and stops gracefully on SIGTERM',
  )
  .option('--local <dir>', 'local mode: folder of ModelRollout YAML files, routed by the local gateway (--gateway)')
  .requiredOption('--prometheus <url>', 'Prometheus base URL')
  .option('--alertmanager <url>', 'Alertmanager base URL')
  .option('--gateway <url>', 'local mode: the local gateway admin URL (token in WEIR_GATEWAY_TOKEN)')
  .option(
    '--kubeconfig <file>',
    "Kubernetes mode: kubeconfig (default: KUBECONFIG, ~/.kube/config, or the pod's service account)",
  )
  .option('--context <name>', 'Kubernetes mode: kubeconfig context')
  .option(
    '--namespace <ns>',
    'Kubernetes mode: watch ModelRollouts in this namespace (repeat; default: all namespaces)',
    repeatable,
    [] as string[],
  )
  .option('--no-leader-elect', 'Kubernetes mode: act without holding the Lease (one replica only)')
  .option('--lease-namespace <ns>', 'namespace of the leader Lease (default: POD_NAMESPACE or weir-system)')
  .option(
    '--lease-name <name>',
    'name of the leader Lease (default: weir-controller, or weir-controller-SHARD with --shard)',
  )
  .option(
    '--shard <name>',
    `Kubernetes mode: drive only ModelRollouts labelled ${SHARD_LABEL}=<name> (one controller Deployment per shard); without it, only those with no ${SHARD_LABEL} label`,
  )
  .option('--concurrency <n>', 'rollouts reconciled at once', '16')
  .option(
    '--lease-duration <duration>',
    'how long a leader holds the Lease without renewing; a standby takes over after it',
    '15s',
  )
  .option('--identity <id>', "this replica's name in the Lease (default: POD_NAME or host-pid)")
  .option('--resync <duration>', 'list every ModelRollout again this often, besides watching', '5m')
  .option('--port <n>', 'port for /metrics, /healthz, /readyz (0 picks a free one)', '0')
  .option('--host <address>', 'address for /metrics, /healthz, /readyz', '127.0.0.1')
  .addHelpText(
    'after',
    `\nEnvironment:\n  WEIR_GATEWAY_TOKEN   local mode: the gateway admin token\n  WEIR_WEBHOOK_TOKEN   turns on POST /alertmanager/webhook (Alertmanager sends it as a bearer token): a firing\n                       alert listed in a rollout's spec.notifications.abortOnAlert, with version = its canary, aborts it\n\nExamples:\n  weir controller --kubeconfig ~/.kube/config --prometheus http://prometheus:9090 --alertmanager http://alertmanager:9093\n  weir controller --local rollouts/ --gateway http://127.0.0.1:15000 --prometheus http://127.0.0.1:9090\n  weir controller --shard b --prometheus http://prometheus:9090   # the rollouts labelled ${SHARD_LABEL}=b`,
  )
  .action(async (options: ControllerCommandOptions) => {
    await runController(options);
  });

program
  .command('gateway')
  .description(
    'run the local gateway: weighted routing by a VirtualService-shaped table, mirroring, retries, Istio metrics; admin API behind a token (WEIR_GATEWAY_TOKEN)',
  )
  .option('--routes <file>', 'VirtualService YAML (or its spec) with the HTTP routes')
  .option(
    '--watch-virtualservice <namespace/name>',
    "follow this VirtualService in a Kubernetes API server (Envoy's part in Kubernetes-mode tests)",
  )
  .option('--kubeconfig <file>', 'kubeconfig for --watch-virtualservice (default: KUBECONFIG or ~/.kube/config)')
  .requiredOption(
    '--backend <version=url,...>',
    'backend URLs of a version (repeat per version)',
    repeatable,
    [] as string[],
  )
  .option('--port <n>', 'data port (0 picks a free one)', '0')
  .option('--admin-port <n>', 'admin and /metrics port (0 picks a free one)', '0')
  .option('--service <name>', 'destination_service label', 'predictor')
  .option('--token-file <file>', 'file holding the admin token (instead of WEIR_GATEWAY_TOKEN)')
  .action(async (options: GatewayCommandOptions) => {
    await runGateway(options);
  });

// Named errors are one line, not a stack trace. Exit codes: 1 failure (an invalid
// rollout, an API server error), 2 bad input, 3 forbidden by RBAC, 4 refused by
// the rollout's phase, 70 a bug in weir (anything else: reported as one).
try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.stderr.write(`${errorLine(err)}\n`);
  process.exit(exitCodeOf(err));
}

function errorLine(err: unknown): string {
  if (err instanceof CommandRefusedError)
    return `error: ${err.key}: ${err.message} (recorded in its status; see weir status)`;
  // The API server's own words (such as an RBAC denial naming the verb and resource).
  if (err instanceof UsageError || err instanceof InvalidRolloutError || err instanceof KubeError)
    return `error: ${err.message}`;
  const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
  return `weir: internal error: this is a bug in weir, not in what you typed; please report it with this output\n${detail}`;
}

function exitCodeOf(err: unknown): number {
  if (err instanceof CommandRefusedError) return 4;
  if (err instanceof UsageError) return 2;
  if (err instanceof KubeError) return err.failure.code === 403 ? 3 : 1;
  if (err instanceof InvalidRolloutError) return 1;
  return 70;
}
