// `make bench-controller`: one weir controller in Kubernetes mode driving many
// ModelRollouts at once, on a real kube-apiserver + etcd and a real Prometheus.
//
// - ROLLOUTS (default 1000) ModelRollouts in namespace `bench`, each with its own
//   VirtualService and DestinationRule, model m-NNNN, v1 → v2 in four stages.
// - An exporter in this process serves weir-predictor metrics for every model
//   and version (requests, errors, a latency histogram, ground truth), with
//   each version's request rate following the weight its VirtualService carries
//   right now, so the sample-ratio check sees what a mesh would give it. The two
//   versions are equally good: rollouts advance stage by stage.
// - Prometheus scrapes it every 5 s; the controller queries Prometheus as in
//   production (guardrails and comparisons per rollout).
// - The controller runs as its own process with the RBAC and the NODE_OPTIONS
//   of manifests/ (CONTROLLER_NODE_OPTIONS overrides them), for
//   DURATION seconds (default 900). Its RSS is read from /proc every 15 s; its /metrics
//   and the API server's give the round times, the decision → route latency,
//   the query and API request rates.
//
// One JSON line goes to stdout; progress goes to stderr.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { startPrometheus } from '../../controller/src/local/prometheus-process.js';
import { packageRoot } from '../../shared/paths.js';
import { linearRegression } from 'simple-statistics';
import { histogramQuantile } from '../../controller/src/sim/streams.js';
import { startController } from '../support/controller-process.js';
import {
  CONTROLLER_SA,
  installCrds,
  startKube,
  tokenUser,
  virtualServices,
  watchCollection,
  type WatchedVirtualService,
} from '../support/kube-env.js';
import { rssMb, scrape } from '../support/metrics.js';
import { parseMetricsText, type Sample } from '../../controller/src/local/metrics-text.js';

const ROLLOUTS = Number(process.env.ROLLOUTS ?? 1000);
const SECONDS = Number(process.env.DURATION ?? 900);
const STAGE = process.env.STAGE ?? '3m';
const CONCURRENCY = process.env.CONCURRENCY ?? '16';
/** Node options for the controller alone: by default those of manifests/controller/deployment.yaml, as deployed. */
const CONTROLLER_NODE_OPTIONS = process.env.CONTROLLER_NODE_OPTIONS ?? deployedNodeOptions();

function deployedNodeOptions(): string {
  const text = readFileSync(path.join(packageRoot(), 'manifests/controller/deployment.yaml'), 'utf8');
  const deployment = parseAllDocuments(text)
    .map(
      (d) =>
        d.toJS() as {
          kind?: string;
          spec?: { template?: { spec?: { containers?: { env?: { name: string; value?: string }[] }[] } } };
        },
    )
    .find((d) => d?.kind === 'Deployment');
  const env = deployment?.spec?.template?.spec?.containers?.flatMap((c) => c.env ?? []) ?? [];
  return env.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '';
}
const NAMESPACE = 'bench';
/** Requests per second each model gets, split between its versions by the route's weights. */
const RATE = 20;
const progress = (text: string) => process.stderr.write(`[bench-controller] ${text}\n`);
const pad = (i: number) => String(i).padStart(4, '0');

/** The exporter's counters for one model version, integrated over time from the rate its weight gives. */
interface Counters {
  requests: number;
  errors: number;
  correct: number;
  labelled: number;
  /** Cumulative counts per latency bucket. */
  buckets: number[];
}
const LE = [0.005, 0.01, 0.025, 0.05, 0.1];
/** Share of requests at or under each bound (the last is +Inf). */
const LATENCY_SHARE = [0.3, 0.7, 0.95, 0.99, 1, 1];

/** weir-predictor metrics for every model and version, rates following the VirtualServices' weights. */
async function startExporter(weights: Map<string, { v1: number; v2: number }>) {
  const counters = new Map<string, Counters>();
  let last = Date.now();
  const advance = () => {
    const now = Date.now();
    const seconds = (now - last) / 1000;
    last = now;
    for (let i = 0; i < ROLLOUTS; i++) {
      const model = `m-${pad(i)}`;
      const split = weights.get(`vs-${pad(i)}`) ?? { v1: 100, v2: 0 };
      for (const version of ['v1', 'v2'] as const) {
        const key = `${model}/${version}`;
        const c = counters.get(key) ?? {
          requests: 0,
          errors: 0,
          correct: 0,
          labelled: 0,
          buckets: LE.map(() => 0).concat(0),
        };
        const n = (RATE * seconds * split[version]) / 100;
        c.requests += n;
        c.errors += n * 0.001;
        c.labelled += n * 0.5;
        c.correct += n * 0.5 * 0.6;
        c.buckets = c.buckets.map((b, j) => b + n * LATENCY_SHARE[j]!);
        counters.set(key, c);
      }
    }
  };
  const server = http.createServer((req, res) => {
    advance();
    const lines: string[] = [];
    for (const [key, c] of counters) {
      const [model, version] = key.split('/');
      const l = `model="${model}",version="${version}"`;
      const r = (x: number) => Math.floor(x);
      lines.push(
        `weir_predictor_requests_total{${l},endpoint="infer",code="200"} ${r(c.requests - c.errors)}`,
        `weir_predictor_requests_total{${l},endpoint="infer",code="500"} ${r(c.errors)}`,
        `weir_predictor_feedback_total{${l},outcome="correct"} ${r(c.correct)}`,
        `weir_predictor_feedback_total{${l},outcome="incorrect"} ${r(c.labelled - c.correct)}`,
        ...LE.map(
          (le, j) =>
            `weir_predictor_request_duration_seconds_bucket{${l},endpoint="infer",le="${le}"} ${r(c.buckets[j]!)}`,
        ),
        `weir_predictor_request_duration_seconds_bucket{${l},endpoint="infer",le="+Inf"} ${r(c.buckets[LE.length]!)}`,
      );
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(`${lines.join('\n')}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  advance();
  return { url: `127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

/** The rollout every model gets: guardrails and comparisons on the exporter's series, as an operator writes them. */
function rollout(i: number) {
  const sel = (extra = '') => `model="{{model}}",version="{{version}}"${extra}`;
  return {
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'ModelRollout',
    metadata: { name: `r-${pad(i)}`, namespace: NAMESPACE },
    spec: {
      model: `m-${pad(i)}`,
      virtualService: { name: `vs-${pad(i)}`, route: 'primary' },
      stable: { version: 'v1' },
      canary: { version: 'v2' },
      strategy: { steps: [10, 25, 50, 100], minStageDuration: STAGE, minSamplesPerStage: 100, maxDuration: '2h' },
      analysis: {
        interval: '30s',
        guardrails: [
          {
            name: 'error-rate',
            query: `sum(rate(weir_predictor_requests_total{${sel(',code=~"5.."')}}[{{window}}])) / sum(rate(weir_predictor_requests_total{${sel()}}[{{window}}]))`,
            max: 0.01,
          },
        ],
        comparisons: [
          {
            name: 'accuracy',
            type: 'proportion',
            role: 'primary',
            better: 'higher',
            minEffect: 0.05,
            successes: `sum(increase(weir_predictor_feedback_total{${sel(',outcome="correct"')}}[{{window}}]))`,
            trials: `sum(increase(weir_predictor_feedback_total{${sel()}}[{{window}}]))`,
          },
          {
            name: 'latency',
            type: 'histogram',
            better: 'lower',
            buckets: `sum by (le) (increase(weir_predictor_request_duration_seconds_bucket{${sel(',endpoint="infer"')}}[{{window}}]))`,
          },
        ],
        samples: `sum(increase(weir_predictor_requests_total{${sel(',endpoint="infer"')}}[{{window}}]))`,
      },
    },
  };
}

function virtualService(i: number) {
  const host = `m-${pad(i)}.${NAMESPACE}.svc.cluster.local`;
  return {
    apiVersion: 'networking.istio.io/v1beta1',
    kind: 'VirtualService',
    metadata: { name: `vs-${pad(i)}`, namespace: NAMESPACE },
    spec: {
      hosts: [host],
      http: [
        {
          name: 'primary',
          route: [
            { destination: { host, subset: 'v1' }, weight: 100 },
            { destination: { host, subset: 'v2' }, weight: 0 },
          ],
        },
      ],
    },
  };
}

function destinationRule(i: number) {
  return {
    apiVersion: 'networking.istio.io/v1beta1',
    kind: 'DestinationRule',
    metadata: { name: `dr-${pad(i)}`, namespace: NAMESPACE },
    spec: {
      host: `m-${pad(i)}.${NAMESPACE}.svc.cluster.local`,
      subsets: ['v1', 'v2'].map((v) => ({ name: v, labels: { version: v } })),
    },
  };
}

/** Runs `task` for 0..count-1, `width` at a time, reporting progress every 10%. */
async function inParallel(count: number, width: number, what: string, task: (i: number) => Promise<unknown>) {
  let next = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) {
        await task(next++);
        if (++done % Math.max(1, Math.floor(count / 10)) === 0) progress(`${what}: ${done} of ${count}`);
      }
    }),
  );
}

/** A histogram's q-quantile from cumulative buckets, interpolated within its bucket as histogram_quantile() does. */
function quantileOf(buckets: { le: number; count: number }[], q: number): number | null {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const perBucket = sorted.map((b, i) => b.count - (i === 0 ? 0 : sorted[i - 1]!.count));
  return (
    histogramQuantile(
      q,
      sorted.map((b) => b.le),
      perBucket,
    ) ?? null
  );
}

/** A histogram's buckets from a scrape, minus an earlier scrape's (the run's own observations). */
function bucketsOf(samples: Sample[], name: string, before: Sample[] = []): { le: number; count: number }[] {
  const of = (list: Sample[]) =>
    new Map(
      list
        .filter((s) => s.name === `${name}_bucket`)
        .map((s) => [s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), s.value] as const),
    );
  const now = of(samples);
  const then = of(before);
  return [...now].map(([le, count]) => ({ le, count: count - (then.get(le) ?? 0) }));
}

const sum = (samples: Sample[], name: string, where: (labels: Record<string, string>) => boolean = () => true) =>
  samples.filter((s) => s.name === name && where(s.labels)).reduce((a, s) => a + s.value, 0);

async function main(): Promise<void> {
  progress(`${ROLLOUTS} rollouts for ${SECONDS} s, stages of ${STAGE}, concurrency ${CONCURRENCY}`);
  const controllerUser = tokenUser(CONTROLLER_SA);
  const kube = await startKube([controllerUser]);
  const cleanups: (() => Promise<unknown> | unknown)[] = [() => kube.stop()];
  try {
    await installCrds(kube);
    for (const file of ['namespaces.yaml', 'rbac/controller.yaml'])
      await kube.kubectl(['apply', '-f', path.join(packageRoot(), 'manifests', file)]);
    await kube.kubectl(['create', 'namespace', NAMESPACE]);
    const admin = new KubeConfig();
    admin.loadFromFile(await kube.kubeconfig());
    const api = admin.makeApiClient(CustomObjectsApi);
    const create = (group: string, plural: string, body: object) =>
      api.createNamespacedCustomObject({
        group,
        version: group === 'weir.dev' ? 'v1alpha1' : 'v1beta1',
        namespace: NAMESPACE,
        plural,
        body,
      });
    const setupStarted = Date.now();
    await inParallel(ROLLOUTS, 8, 'VirtualServices and DestinationRules', async (i) => {
      await create('networking.istio.io', 'virtualservices', virtualService(i));
      await create('networking.istio.io', 'destinationrules', destinationRule(i));
    });

    // The exporter follows each VirtualService's weights as the watch delivers them.
    const weights = new Map<string, { v1: number; v2: number }>();
    const watcher = await watchCollection<WatchedVirtualService>(admin, virtualServices(NAMESPACE), (vs) => {
      const route = vs.spec.http.find((r) => r.name === 'primary')?.route ?? [];
      const of = (subset: string) => route.find((d) => d.destination.subset === subset)?.weight ?? 0;
      weights.set(vs.metadata.name, { v1: of('v1'), v2: of('v2') });
    });
    cleanups.push(() => watcher.stop());
    const exporter = await startExporter(weights);
    cleanups.push(() => exporter.close());
    const prometheus = await startPrometheus({
      targets: [{ job: 'predictors', targets: [exporter.url], labels: { namespace: NAMESPACE } }],
      scrapeInterval: '5s',
    });
    cleanups.push(() => prometheus.stop());
    // A minute of history before the first rollout, as a live mesh would have.
    progress('Prometheus is scraping the exporter; 60 s of history before the rollouts start');
    await delay(Number(process.env.HISTORY ?? 60) * 1000);

    const controller = await startController(
      [
        '--kubeconfig',
        await kube.kubeconfig(controllerUser.name),
        '--prometheus',
        prometheus.url,
        '--namespace',
        NAMESPACE,
        '--lease-namespace',
        'weir-system',
        '--concurrency',
        CONCURRENCY,
      ],
      CONTROLLER_NODE_OPTIONS ? { env: { NODE_OPTIONS: CONTROLLER_NODE_OPTIONS } } : {},
    );
    cleanups.push(() => controller.stop());
    const pid = controller.child.pid!;
    const controllerMetrics = `http://127.0.0.1:${controller.port}/metrics`;
    const apiserverMetrics = async () => {
      const token = (await readFile(await kube.kubeconfig(), 'utf8')).match(/token: (\S+)/)![1]!;
      return scrapeApiserver(kube.server, token);
    };
    await inParallel(ROLLOUTS, 8, 'ModelRollouts', (i) => create('weir.dev', 'modelrollouts', rollout(i)));
    progress(`setup took ${Math.round((Date.now() - setupStarted) / 1000)} s; measuring for ${SECONDS} s`);

    const startedAt = Date.now();
    const beforeController = await scrape(controllerMetrics);
    const beforeApi = await apiserverMetrics();
    const rss: { x: number; y: number }[] = [];
    while (Date.now() - startedAt < SECONDS * 1000) {
      await delay(Math.min(15_000, SECONDS * 1000 - (Date.now() - startedAt)));
      if (controller.child.exitCode !== null)
        throw new Error(`the controller exited:\n${controller.logs().slice(-3000)}`);
      const minutes = (Date.now() - startedAt) / 60_000;
      rss.push({ x: minutes, y: await rssMb(pid) });
      const m = await scrape(controllerMetrics);
      progress(
        `${Math.round(minutes * 60)} s: RSS ${rss.at(-1)!.y} MB, ${sum(m, 'weir_controller_round_seconds_count') - sum(beforeController, 'weir_controller_round_seconds_count')} rounds, ${sum(m, 'weir_rollout_phase', (l) => l.phase === 'Promoted')} promoted`,
      );
    }
    const elapsed = (Date.now() - startedAt) / 1000;
    const afterController = await scrape(controllerMetrics);
    const afterApi = await apiserverMetrics();

    const rounds = bucketsOf(afterController, 'weir_controller_round_seconds', beforeController);
    const routes = bucketsOf(afterController, 'weir_controller_decision_to_route_seconds', beforeController);
    const phases = Object.fromEntries(
      ['Pending', 'Progressing', 'AwaitingApproval', 'Paused', 'Promoted', 'RolledBack', 'Failed'].map((p) => [
        p,
        sum(afterController, 'weir_rollout_phase', (l) => l.phase === p),
      ]),
    );
    const delta = (name: string, where?: (l: Record<string, string>) => boolean) =>
      sum(afterController, name, where) - sum(beforeController, name, where);
    const notWatch = (l: Record<string, string>) => l.verb !== 'WATCH' && l.verb !== 'CONNECT';
    const apiRequests =
      sum(afterApi, 'apiserver_request_total', notWatch) - sum(beforeApi, 'apiserver_request_total', notWatch);
    // RSS over the run after its first third (caches filled, every rollout seen): growth and trend.
    const settled = rss.filter((p) => p.x >= SECONDS / 60 / 3);
    const round3 = (x: number | null) => (x === null ? null : Math.round(x * 1000) / 1000);
    const roundP50 = quantileOf(rounds, 0.5);
    const roundP99 = quantileOf(rounds, 0.99);
    const routeP99 = quantileOf(routes, 0.99);
    const rssMax = Math.max(...rss.map((p) => p.y));
    const rssGrowth = settled.length >= 2 ? settled.at(-1)!.y / settled[0]!.y - 1 : 0;
    const report = {
      benchmark: 'weir-controller',
      rollouts: ROLLOUTS,
      seconds: Math.round(elapsed),
      concurrency: Number(CONCURRENCY),
      controllerNodeOptions: CONTROLLER_NODE_OPTIONS || null,
      roundsCounted: rounds.find((b) => b.le === Infinity)?.count ?? 0,
      roundSecondsP50: round3(roundP50),
      roundSecondsP99: round3(roundP99),
      decisionToRouteMsP99: routeP99 === null ? null : Math.round(routeP99 * 1000),
      routesWritten: delta('weir_controller_route_writes_total'),
      rssMb: rss.at(-1)!.y,
      heapUsedMb: Math.round(sum(afterController, 'weir_controller_nodejs_heap_size_used_bytes') / 2 ** 20),
      heapTotalMb: Math.round(sum(afterController, 'weir_controller_nodejs_heap_size_total_bytes') / 2 ** 20),
      externalMb: Math.round(sum(afterController, 'weir_controller_nodejs_external_memory_bytes') / 2 ** 20),
      rssMbMax: rssMax,
      rssMbSamples: rss.map((p) => p.y),
      rssGrowthAfterFirstThird: round3(rssGrowth),
      rssMbPerMinuteAfterFirstThird: round3(
        settled.length >= 2 ? linearRegression(settled.map((p) => [p.x, p.y])).m : 0,
      ),
      queriesPerSecond: Math.round((delta('weir_controller_metric_queries_total') / elapsed) * 10) / 10,
      queryErrors: delta('weir_controller_metric_queries_total', (l) => l.result === 'error'),
      apiRequestsPerSecond: Math.round((apiRequests / elapsed) * 10) / 10,
      reconciles: delta('weir_controller_reconciles_total'),
      reconcileFailures: delta('weir_controller_reconciles_total', (l) => l.result !== 'ok'),
      phases,
      note: "round and decision-to-route quantiles are interpolated within histogram buckets (as histogram_quantile); apiRequestsPerSecond counts every non-watch request the API server served during the run, the controller's and this harness's (its watch only)",
      targets: {
        roundSecondsP99: {
          measured: round3(roundP99),
          target: '<= 30 (the analysis interval)',
          met: roundP99 !== null && roundP99 <= 30,
        },
        rssMb: { measured: rssMax, target: '<= 512', met: rssMax <= 512 },
        rssGrowth: {
          measured: round3(rssGrowth),
          target: '<= 0.1 from the end of the first third of the run to its end',
          met: rssGrowth <= 0.1,
        },
        decisionToRouteMsP99: {
          measured: routeP99 === null ? null : Math.round(routeP99 * 1000),
          target: '< 200',
          met: routeP99 !== null && routeP99 < 0.2,
        },
      },
    };
    const allTargetsMet = Object.values(report.targets).every((t) => t.met);
    process.stdout.write(`${JSON.stringify({ ...report, allTargetsMet })}\n`);
  } finally {
    for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
  }
}

/** The API server's own metrics, as the admin sees them. */
async function scrapeApiserver(server: string, token: string): Promise<Sample[]> {
  const text = await new Promise<string>((resolve, reject) => {
    https
      .get(`${server}/metrics`, { rejectUnauthorized: false, headers: { authorization: `Bearer ${token}` } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
  return parseMetricsText(text);
}

await main();
