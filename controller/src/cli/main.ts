// `weir`: the command-line interface and, in later releases, the controller.
import { Command } from 'commander';
import { runDemo } from './demo.js';
import { SCENARIOS, type ScenarioName } from '../local/demo/scenario.js';
import { runValidate } from './validate.js';
import { registerAnalystCommands } from './analyst.js';
import { runGateway, type GatewayCommandOptions } from './gateway.js';
import { registerRolloutCommands } from './rollouts.js';
import { runController, type ControllerCommandOptions } from './controller.js';

const program = new Command('weir')
  .description('weir ships ML model versions safely: canary stages judged by guardrails and champion-vs-challenger statistics.')
  .version('0.1.0', '-V, --version', 'print the weir version')
  .helpOption('-h, --help', 'show help for weir or for a command')
  .showHelpAfterError('(run weir --help for the commands)');

program
  .command('demo')
  .description('run a full canary rollout on this machine: predictors, the gateway, real Prometheus and Alertmanager, load with ground truth, and the controller')
  .option('--scenario <name>', `which canary: ${Object.entries(SCENARIOS).map(([n, v]) => `${n} (${v})`).join(', ')}`, 'good')
  .option('--json', 'print only one JSON line at the end')
  .addHelpText('after', '\nExamples:\n  weir demo                      # v1 → v2, promoted\n  weir demo --scenario slow      # v1 → v4 (+40 ms), rolled back\n  weir demo --scenario bad-accuracy --json')
  .action(async (options: { scenario: string; json?: boolean }) => {
    if (!(options.scenario in SCENARIOS)) program.error(`--scenario: "${options.scenario}" is not a scenario; expected ${Object.keys(SCENARIOS).join(', ')}`);
    const result = await runDemo(options.scenario as ScenarioName, options.json === true);
    process.exitCode = result.failedRequests === 0 ? 0 : 1;
  });

program
  .command('validate')
  .argument('<file>', 'YAML or JSON file with one or more ModelRollout documents')
  .description('check ModelRollout files: silent with exit 0 when valid; otherwise one line per problem naming the field, the bad value and what is allowed, and exit 1')
  .action(async (file: string) => {
    process.exitCode = await runValidate(file);
  });

registerAnalystCommands(program);
registerRolloutCommands(program);

program
  .command('controller')
  .description('run the controller: reconcile every ModelRollout on its interval (local mode: --local DIR with the local gateway); serves /metrics, /healthz, /readyz')
  .option('--local <dir>', 'folder of ModelRollout YAML files')
  .requiredOption('--prometheus <url>', 'Prometheus base URL')
  .option('--gateway <url>', 'local gateway admin URL (token in WEIR_GATEWAY_TOKEN)')
  .option('--alertmanager <url>', 'Alertmanager base URL')
  .option('--port <n>', 'port for /metrics, /healthz, /readyz (0 picks a free one)', '0')
  .action(async (options: ControllerCommandOptions) => {
    await runController(options);
  });

program
  .command('gateway')
  .description('run the local gateway: weighted routing by a VirtualService-shaped table, mirroring, retries, Istio metrics; admin API behind a token (WEIR_GATEWAY_TOKEN)')
  .option('--routes <file>', 'VirtualService YAML (or its spec) with the HTTP routes')
  .option('--watch-virtualservice <namespace/name>', 'follow this VirtualService in a Kubernetes API server (Envoy\'s part in Kubernetes-mode tests)')
  .option('--kubeconfig <file>', 'kubeconfig for --watch-virtualservice (default: KUBECONFIG or ~/.kube/config)')
  .requiredOption('--backend <version=url,...>', 'backend URLs of a version (repeat per version)', (value: string, list: string[]) => [...list, value], [] as string[])
  .option('--port <n>', 'data port (0 picks a free one)', '0')
  .option('--admin-port <n>', 'admin and /metrics port (0 picks a free one)', '0')
  .option('--service <name>', 'destination_service label', 'predictor')
  .option('--token-file <file>', 'file holding the admin token (instead of WEIR_GATEWAY_TOKEN)')
  .action(async (options: GatewayCommandOptions) => {
    await runGateway(options);
  });

// Errors from the statistics (a RangeError naming the argument) are one line, not a stack trace.
try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof RangeError) {
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}
