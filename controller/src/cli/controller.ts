// `weir controller --local DIR`: the reconcile loop with the file store, the
// local gateway, Prometheus and (optionally) Alertmanager.
import { createLogger } from '../../../predictor/src/log.js';
import { ControllerLoop } from '../controller/loop.js';
import { AlertmanagerNotifier } from '../providers/alertmanager/notifier.js';
import { FileRolloutStore } from '../providers/file/store.js';
import { GatewayRouter } from '../providers/gateway/router.js';
import { PrometheusMetrics } from '../providers/prometheus/provider.js';

export interface ControllerCommandOptions {
  local?: string;
  prometheus: string;
  gateway?: string;
  alertmanager?: string;
  port: string;
}

export async function runController(options: ControllerCommandOptions): Promise<void> {
  if (!options.local) throw new RangeError('--local <dir> is required (Kubernetes mode is not available yet)');
  if (!options.gateway) throw new RangeError('--gateway <url> is required: the local gateway admin URL, such as http://127.0.0.1:15000');
  const token = process.env.WEIR_GATEWAY_TOKEN;
  if (!token) throw new RangeError('WEIR_GATEWAY_TOKEN is not set: the gateway admin token');
  const log = createLogger('controller');
  const loop = new ControllerLoop({
    store: new FileRolloutStore(options.local),
    router: new GatewayRouter(options.gateway, token),
    metrics: new PrometheusMetrics({ url: options.prometheus }),
    ...(options.alertmanager ? { notifier: new AlertmanagerNotifier(options.alertmanager) } : {}),
    log,
    namespace: 'local',
  });
  const port = await loop.listen(Number(options.port));
  loop.start();
  log.always('listening', { port, local: options.local, prometheus: options.prometheus });
  const stop = () =>
    void loop.stop().then(() => {
      log.always('stopped');
      process.exit(0);
    });
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
