// Istio-standard request metrics, so the same analysis queries work locally and
// in a cluster: istio_requests_total and istio_request_duration_milliseconds.
import client from 'prom-client';
import { ISTIO_DURATION, ISTIO_REQUESTS } from '../../../../shared/metric-names.js';

/** Istio's default duration buckets (ms), up to one minute. */
const ISTIO_BUCKETS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000];
const LABELS = ['reporter', 'destination_service', 'destination_version', 'response_code', 'request_mirrored'] as const;

/** The gateway's Istio-standard request metrics and its configured weights. */
export class GatewayTelemetry {
  readonly registry = new client.Registry();
  private readonly requests = new client.Counter({
    name: ISTIO_REQUESTS,
    help: 'Requests by destination version and response code (Istio standard metric)',
    labelNames: LABELS,
    registers: [this.registry],
  });
  private readonly duration = new client.Histogram({
    name: ISTIO_DURATION,
    help: 'Request duration in ms (Istio standard metric)',
    labelNames: LABELS,
    buckets: ISTIO_BUCKETS,
    registers: [this.registry],
  });
  private readonly aborts = new client.Counter({
    name: 'weir_gateway_client_aborts_total',
    help: 'Requests the client abandoned before sending its whole body (not errors, not model traffic)',
    registers: [this.registry],
  });
  private readonly routeWeight = new client.Gauge({
    name: 'weir_gateway_route_weight',
    help: 'Configured weight per route and destination version',
    labelNames: ['route', 'destination_version'],
    registers: [this.registry],
  });

  constructor(private readonly service: string) {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'weir_gateway_' });
  }

  record(version: string, code: number, ms: number, mirrored: boolean): void {
    const labels = {
      reporter: 'destination',
      destination_service: this.service,
      destination_version: version,
      response_code: String(code),
      request_mirrored: String(mirrored),
    };
    this.requests.inc(labels);
    this.duration.observe(labels, ms);
  }

  aborted(): void {
    this.aborts.inc();
  }

  weights(route: string, weights: Record<string, number>): void {
    this.routeWeight.reset();
    for (const [version, weight] of Object.entries(weights))
      this.routeWeight.set({ route, destination_version: version }, weight);
  }
}
