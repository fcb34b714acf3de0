// `weir controller` as a child process for tests, with its log lines and port.
// With `withoutDacOverride`, a controller started by root runs without
// CAP_DAC_OVERRIDE (util-linux setpriv), so file permissions apply to it as
// they would to any user: a read-only store folder is read-only for it.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { packageRoot } from '../../shared/paths.js';
import { waitFor } from '../../shared/wait.js';

export interface ControllerProcess {
  child: ChildProcess;
  port: number;
  logs(): string;
  /** Log records with this msg. */
  records(msg: string): Record<string, unknown>[];
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const weir = () => path.join(packageRoot(), 'bin', 'weir.js');

/** The flags of a Kubernetes-mode controller on the test apiserver: its kubeconfig, Prometheus, and its Lease in weir-system as `identity`. */
export function kubeControllerArgs(kubeconfig: string, prometheus: string, identity: string): string[] {
  return [
    '--kubeconfig',
    kubeconfig,
    '--prometheus',
    prometheus,
    '--lease-namespace',
    'weir-system',
    '--identity',
    identity,
  ];
}

export async function startController(
  args: string[],
  options: { env?: Record<string, string>; withoutDacOverride?: boolean } = {},
): Promise<ControllerProcess> {
  const argv = [weir(), 'controller', ...args];
  const dropDac = options.withoutDacOverride && process.getuid?.() === 0;
  const child = dropDac
    ? spawn('setpriv', ['--bounding-set', '-dac_override,-dac_read_search', process.execPath, ...argv], {
        env: { ...process.env, ...options.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
    : spawn(process.execPath, argv, { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let logs = '';
  child.stdout!.on('data', (c: Buffer) => (logs += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (logs += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await waitFor(
    () => /"msg":"listening","port":(\d+)/.test(logs) || child.exitCode !== null,
    20_000,
    'the controller to listen',
  );
  if (child.exitCode !== null) throw new Error(`weir controller exited with ${child.exitCode}:\n${logs}`);
  const port = Number(/"msg":"listening","port":(\d+)/.exec(logs)![1]);
  return {
    child,
    port,
    logs: () => logs,
    records: (msg) =>
      logs
        .split('\n')
        .filter((l) => l.includes(`"msg":${JSON.stringify(msg)}`))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
