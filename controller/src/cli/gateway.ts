// `weir gateway`: runs the local gateway as its own process.
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { createLogger } from '../../../shared/log.js';
import { Gateway } from '../local/gateway/server.js';
import { parseRouteTable } from '../local/gateway/routes.js';
import { VirtualServiceWatcher } from '../local/gateway/vs-watch.js';
import { loadKubeConfig } from '../providers/kube/client.js';
import { UsageError } from '../../../shared/errors.js';

export interface GatewayCommandOptions {
  routes?: string;
  watchVirtualservice?: string;
  kubeconfig?: string;
  backend: string[];
  port: string;
  adminPort: string;
  service: string;
  tokenFile?: string;
}

/** "v1=http://127.0.0.1:9001,http://127.0.0.1:9002" → ["v1", [urls]]. */
export function parseBackend(text: string): [string, string[]] {
  const match = /^([^=]+)=(.+)$/.exec(text);
  if (!match) throw new UsageError(`--backend: "${text}" is not VERSION=URL[,URL...]`);
  const urls = match[2]!.split(',').map((u) => u.trim());
  for (const url of urls) {
    try {
      new URL(url);
    } catch {
      throw new UsageError(`--backend: "${url}" is not a URL, such as http://127.0.0.1:9001`);
    }
  }
  return [match[1]!, urls];
}

/** `weir gateway`: serves the local gateway from a route file, or following a VirtualService. */
export async function runGateway(options: GatewayCommandOptions): Promise<void> {
  const log = createLogger('gateway');
  const token = options.tokenFile ? (await readFile(options.tokenFile, 'utf8')).trim() : process.env.WEIR_GATEWAY_TOKEN;
  if (!token) throw new UsageError('the admin token is missing: set WEIR_GATEWAY_TOKEN or --token-file');
  if (!options.routes && !options.watchVirtualservice)
    throw new UsageError('give --routes FILE, --watch-virtualservice NAMESPACE/NAME, or both');
  // Until the watched VirtualService arrives, nothing is routed.
  const table = options.routes
    ? parseRouteTable(parseYaml(await readFile(options.routes, 'utf8')))
    : parseRouteTable({
        http: [
          {
            name: 'pending',
            match: [{ headers: { 'x-weir-never': { exact: 'x' } } }],
            route: [{ destination: { host: 'none' } }],
          },
        ],
      });
  const gateway = new Gateway(
    { table, backends: Object.fromEntries(options.backend.map(parseBackend)), service: options.service, token },
    log,
  );
  let watcher: VirtualServiceWatcher | undefined;
  if (options.watchVirtualservice) {
    const [namespace, name] = options.watchVirtualservice.split('/');
    if (!namespace || !name)
      throw new UsageError(`--watch-virtualservice: "${options.watchVirtualservice}" is not NAMESPACE/NAME`);
    watcher = new VirtualServiceWatcher(
      gateway,
      loadKubeConfig(options.kubeconfig ? { kubeconfig: options.kubeconfig } : {}),
      { namespace, name },
      log,
    );
    await watcher.start();
  }
  const ports = await gateway.listen(Number(options.port), Number(options.adminPort));
  log.always('listening', { port: ports.port, adminPort: ports.adminPort });
  const stop = () => {
    watcher?.stop();
    void gateway.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
