// `make bench`: the predictor against two floors and one peer, measured on the
// same machine in the same run: a bare node:http server answering a fixed JSON
// body, ONNX Runtime called in-process on the same input, and the seed-style
// stack (FastAPI + uvicorn + scikit-learn, peer/seed_server.py). The ratio to
// the floor at 64 connections is taken from rounds that alternate between the
// floor and the predictor (the median of three), since this shared machine's
// speed drifts between phases run minutes apart. Then a
// sustained run: one predictor under constant load at 64 connections for
// SUSTAINED_SECONDS (default 60), in 10 s rounds back to back, with its RSS after
// each, so a predictor that slows down or grows as it runs is seen (a fresh 5 s
// phase never fills the prediction log). Results are printed as JSON on stdout;
// progress goes to stderr. BENCH_SECONDS sets each short phase's length.
// The load comes from wrk when it is installed (C, one thread: it leaves most of
// this 2-core machine to the server) and from autocannon otherwise;
// BENCH_TOOL=autocannon forces autocannon.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as ort from 'onnxruntime-node';
import autocannon from 'autocannon';
import { generateMarket } from '../../shared/market/market.js';
import { labelledRows } from '../../shared/market/features.js';
import { redisCommand, startRedis } from '../../controller/src/local/redis-process.js';
import { metricAt, rssMb } from '../support/metrics.js';
import { startPredictor } from '../../controller/src/local/predictor-process.js';
import { trackChild } from '../../controller/src/local/children.js';
import { freePort } from '../../controller/src/local/free-port.js';
import { packageRoot } from '../../shared/paths.js';
import { quantileSorted } from 'simple-statistics';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const SUSTAINED_SECONDS = Number(process.env.SUSTAINED_SECONDS ?? 60);
const SUSTAINED_ROUND_SECONDS = 10;
/** Debian's python3 by default (its packages hold FastAPI, uvicorn and scikit-learn), not whatever is first on PATH. */
const PYTHON = process.env.PEER_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
const CONNECTIONS = [1, 16, 64];
const MODEL = 'price-direction';
const progress = (text: string) => process.stderr.write(`[bench] ${text}\n`);

const rows = labelledRows(generateMarket({ seed: 99, length: 300 }))
  .slice(-256)
  .map((r) => r.features);
const bodies = rows.map((row) =>
  JSON.stringify({ inputs: [{ name: 'features', shape: [1, 9], datatype: 'FP32', data: row }] }),
);
const fixedReply = JSON.stringify({
  model_name: MODEL,
  model_version: 'v1',
  id: '00000000-0000-0000-0000-000000000000',
  outputs: [
    { name: 'probability', datatype: 'FP32', shape: [1], data: [0.5] },
    { name: 'label', datatype: 'INT64', shape: [1], data: [1] },
  ],
});

interface Phase {
  connections: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
}

function hasWrk(): boolean {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (err) {
    // wrk --version exits 1 after printing its version; only a missing binary is fatal.
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}
const TOOL = process.env.BENCH_TOOL ?? (hasWrk() ? 'wrk' : 'autocannon');

/** A wrk script that cycles through the bodies and prints its summary as one JSON line. */
function wrkScript(): string {
  const list = bodies.map((b) => `[==[${b}]==]`).join(',\n');
  return `local bodies = {\n${list}\n}
local i = 0
local headers = { ["Content-Type"] = "application/json", ["Cache-Control"] = "no-cache" }
request = function()
  i = i + 1
  return wrk.format("POST", nil, headers, bodies[(i % #bodies) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"durationUs":%d,"p50Us":%d,"p99Us":%d,"errors":%d,"non2xx":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), e.connect + e.read + e.write + e.timeout, e.status))
end
`;
}

async function load(url: string, connections: number, seconds = SECONDS): Promise<Phase> {
  if (TOOL === 'wrk') {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'weir-bench-'));
    try {
      const script = path.join(dir, 'bodies.lua');
      await writeFile(script, wrkScript());
      const { stdout } = await promisify(execFile)('wrk', [
        '-t1',
        `-c${connections}`,
        `-d${seconds}s`,
        '--timeout',
        '5s',
        '-s',
        script,
        url,
      ]);
      const line = stdout.split('\n').find((l) => l.startsWith('{"requests"'));
      if (!line) throw new Error(`wrk printed no summary:\n${stdout}`);
      const r = JSON.parse(line) as {
        requests: number;
        durationUs: number;
        p50Us: number;
        p99Us: number;
        errors: number;
        non2xx: number;
      };
      return {
        connections,
        requestsPerSecond: Math.round(r.requests / (r.durationUs / 1e6)),
        p50Ms: r.p50Us / 1000,
        p99Ms: r.p99Us / 1000,
        errors: r.errors,
        non2xx: r.non2xx,
      };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const result = await autocannon({
    url,
    connections,
    duration: seconds,
    // Distinct inputs and no-cache: every request runs the model.
    requests: bodies.map((body) => ({
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'cache-control': 'no-cache' },
    })),
  });
  return {
    connections,
    requestsPerSecond: Math.round(result.requests.average),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

/** The bare-HTTP floor, in its own process like the predictor: reads the body, answers a fixed JSON reply. */
async function startBareServer(): Promise<{ url: string; stop: () => void }> {
  const script = `
    const http = require('node:http');
    const reply = ${JSON.stringify(fixedReply)};
    const server = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => { JSON.parse(Buffer.concat(chunks).toString()); res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(reply) }); res.end(reply); });
    });
    server.listen(0, '127.0.0.1', () => console.log(server.address().port));`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) =>
    child.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim()))),
  );
  return { url: `http://127.0.0.1:${port}/v2/models/${MODEL}/infer`, stop: () => child.kill() };
}

/** The q-quantile of sorted values (simple-statistics' quantileSorted). */
const percentile = (sorted: number[], q: number): number => quantileSorted(sorted, q);

/** In-process ONNX Runtime on the same single-row inputs, one call at a time. */
async function inProcess(
  version: string,
  calls: number,
): Promise<{ callsPerSecond: number; p50Ms: number; p99Ms: number; meanMs: number }> {
  const session = await ort.InferenceSession.create(
    path.join(packageRoot(), 'predictor/models', MODEL, version, 'model.onnx'),
    { intraOpNumThreads: 1 },
  );
  const tensors = rows.map((row) => new ort.Tensor('float32', Float32Array.from(row), [1, 9]));
  for (let i = 0; i < Math.min(50, calls); i++) await session.run({ features: tensors[i % tensors.length]! });
  const latencies: number[] = [];
  const started = performance.now();
  for (let i = 0; i < calls; i++) {
    const t = performance.now();
    await session.run({ features: tensors[i % tensors.length]! });
    latencies.push(performance.now() - t);
  }
  const elapsed = (performance.now() - started) / 1000;
  await session.release();
  latencies.sort((a, b) => a - b);
  const round = (n: number) => Math.round(n * 1000) / 1000;
  return {
    callsPerSecond: Math.round(calls / elapsed),
    p50Ms: round(percentile(latencies, 0.5)),
    p99Ms: round(percentile(latencies, 0.99)),
    meanMs: round(latencies.reduce((a, b) => a + b, 0) / calls),
  };
}

interface Sustained {
  seconds: number;
  rounds: { second: number; requestsPerSecond: number; p99Ms: number; rssMb: number }[];
  /** Last round's throughput over the first's. */
  lastOverFirst: number;
  /** RSS growth from the end of the second round (the prediction log full) to the end. */
  rssGrowth: number;
}

/** Constant load at 64 connections on one live predictor, in rounds back to back (see the module comment). */
async function sustained(url: string, pid: number): Promise<Sustained> {
  const rounds: Sustained['rounds'] = [];
  const count = Math.max(2, Math.round(SUSTAINED_SECONDS / SUSTAINED_ROUND_SECONDS));
  for (let i = 1; i <= count; i++) {
    const phase = await load(url, 64, SUSTAINED_ROUND_SECONDS);
    rounds.push({
      second: i * SUSTAINED_ROUND_SECONDS,
      requestsPerSecond: phase.requestsPerSecond,
      p99Ms: phase.p99Ms,
      rssMb: await rssMb(pid),
    });
    progress(
      `sustained, 64 connections: ${i * SUSTAINED_ROUND_SECONDS} of ${count * SUSTAINED_ROUND_SECONDS} s, ${phase.requestsPerSecond} req/s, RSS ${rounds.at(-1)!.rssMb} MB`,
    );
  }
  const first = rounds[0]!;
  const last = rounds.at(-1)!;
  const settled = rounds[Math.min(1, rounds.length - 1)]!;
  return {
    seconds: count * SUSTAINED_ROUND_SECONDS,
    rounds,
    lastOverFirst: Math.round((last.requestsPerSecond / first.requestsPerSecond) * 1000) / 1000,
    rssGrowth: Math.round((last.rssMb / settled.rssMb - 1) * 1000) / 1000,
  };
}

/**
 * The seed-style peer (peer/seed_server.py) on a free port, trained on the same market's rows.
 * Undefined, with why, when python3, FastAPI, uvicorn or scikit-learn is missing.
 */
async function startPeer(): Promise<{ url: string; stop: () => Promise<void> } | { skipped: string }> {
  try {
    execFileSync(PYTHON, ['-c', 'import fastapi, uvicorn, sklearn'], { stdio: 'pipe' });
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? (err as Error).message)
      .trim()
      .split('\n')
      .at(-1);
    return {
      skipped: `the seed-style peer needs ${PYTHON} with FastAPI, uvicorn and scikit-learn (apt-get install python3-fastapi python3-uvicorn python3-sklearn): ${stderr}`,
    };
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'weir-bench-peer-'));
  const all = labelledRows(generateMarket({ seed: 7, length: 3000 }));
  const training = path.join(dir, 'training.json');
  await writeFile(training, JSON.stringify({ features: all.map((r) => r.features), labels: all.map((r) => r.label) }));
  const port = await freePort();
  const script = path.join(packageRoot(), 'test', 'bench', 'peer', 'seed_server.py');
  const child = trackChild(spawn(PYTHON, [script, training, String(port)], { stdio: ['ignore', 'ignore', 'pipe'] }));
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) {
      await rm(dir, { recursive: true, force: true });
      return { skipped: `the seed-style peer exited at start (code ${child.exitCode}): ${stderr.trim().slice(-500)}` };
    }
    if (
      await fetch(`${url}/v2/health/ready`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    if (Date.now() > deadline) {
      child.kill();
      await rm(dir, { recursive: true, force: true });
      return { skipped: `the seed-style peer did not answer within 60 s: ${stderr.trim().slice(-500)}` };
    }
    await delay(200);
  }
  return {
    url: `${url}/v2/models/${MODEL}/infer`,
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill();
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const LOG_ROUNDS = 3;
const PAIRED_ROUNDS = 3;

/** One round of the bare floor and then the predictor, both at 64 connections. */
interface PairedRound {
  bare: number;
  predictor: number;
  ratio: number;
}

interface LogComparison {
  rounds: { off: number; on: number }[];
  medianOff: number;
  medianOn: number;
  /** 1 − median(on)/median(off). */
  cost: number;
  p99OnMs: number;
  unlogged: number;
  loggedKeys: number;
}

async function comparePredictionLog(): Promise<LogComparison> {
  const redis = await startRedis();
  const started: { stop(): Promise<unknown> }[] = [];
  try {
    const start = (args: string[]) =>
      startPredictor({
        modelRepository: path.join(packageRoot(), 'predictor/models'),
        model: MODEL,
        version: 'v1',
        args: ['--log-level', 'warn', ...args],
      }).then((p) => (started.push(p), p));
    const off = await start([]);
    const on = await start(['--prediction-log', redis.url]);
    const rounds: { off: number; on: number }[] = [];
    let p99OnMs = 0;
    for (let round = 1; round <= LOG_ROUNDS; round++) {
      progress(`prediction log off vs on (Redis), 64 connections, round ${round} of ${LOG_ROUNDS}`);
      const a = await load(`${off.url}/v2/models/${MODEL}/infer`, 64);
      const b = await load(`${on.url}/v2/models/${MODEL}/infer`, 64);
      rounds.push({ off: a.requestsPerSecond, on: b.requestsPerSecond });
      p99OnMs = Math.max(p99OnMs, b.p99Ms);
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    const medianOff = median(rounds.map((r) => r.off));
    const medianOn = median(rounds.map((r) => r.on));
    return {
      rounds,
      medianOff,
      medianOn,
      cost: Math.round((1 - medianOn / medianOff) * 1000) / 1000,
      p99OnMs,
      unlogged: await metricAt(`${on.url}/metrics`, 'weir_predictor_predictions_unlogged_total'),
      loggedKeys: Number(/^:(\d+)/.exec((await redisCommand(redis.port, 'DBSIZE')) ?? '')?.[1] ?? NaN),
    };
  } finally {
    await Promise.all(started.map((p) => p.stop()));
    await redis.stop();
  }
}

async function main(): Promise<void> {
  progress(
    `${SECONDS}s per phase; connections ${CONNECTIONS.join(', ')}; then ${SUSTAINED_SECONDS}s sustained at 64; load from ${TOOL}`,
  );
  const bare = await startBareServer();
  const bareResults: Phase[] = [];
  const predictorResults: Phase[] = [];
  const paired: PairedRound[] = [];
  let steady: Sustained;
  try {
    for (const c of CONNECTIONS) {
      progress(`bare node:http, ${c} connections`);
      bareResults.push(await load(bare.url, c));
    }
    const predictor = await startPredictor({
      modelRepository: path.join(packageRoot(), 'predictor/models'),
      model: MODEL,
      version: 'v1',
      args: ['--log-level', 'warn'],
    });
    const inferUrl = `${predictor.url}/v2/models/${MODEL}/infer`;
    try {
      for (const c of CONNECTIONS) {
        progress(`weir-predictor v1, ${c} connections`);
        predictorResults.push(await load(inferUrl, c));
      }
      // The ratio to the floor from rounds that alternate between the two servers, so a slow or a
      // fast spell of this shared machine falls on both alike (the phases above are minutes apart).
      for (let round = 1; round <= PAIRED_ROUNDS; round++) {
        progress(`bare node:http then weir-predictor, 64 connections, paired round ${round} of ${PAIRED_ROUNDS}`);
        const floor = await load(bare.url, 64);
        const weir = await load(inferUrl, 64);
        paired.push({
          bare: floor.requestsPerSecond,
          predictor: weir.requestsPerSecond,
          ratio: Math.round((weir.requestsPerSecond / floor.requestsPerSecond) * 1000) / 1000,
        });
      }
      bare.stop();
      steady = await sustained(inferUrl, predictor.child.pid!);
    } finally {
      await predictor.stop();
    }
  } finally {
    bare.stop();
  }
  const pairedRatio = [...paired.map((r) => r.ratio)].sort((a, b) => a - b)[Math.floor(paired.length / 2)]!;
  // The prediction log off (in-process) and on (a real Redis on loopback) at 64 connections, in
  // alternating rounds on two live predictors, so drift in a noisy machine hits both alike; the
  // cost is taken from the medians.
  let logged: LogComparison | { skipped: string };
  try {
    logged = await comparePredictionLog();
  } catch (err) {
    logged = { skipped: `no Redis: ${(err as Error).message.split('\n')[0]}` };
  }
  const peer = await startPeer();
  const peerResults: Phase[] = [];
  if ('skipped' in peer) progress(`seed-style peer skipped: ${peer.skipped}`);
  else
    try {
      for (const c of [16, 64]) {
        progress(`seed-style peer (FastAPI + uvicorn + scikit-learn), ${c} connections`);
        peerResults.push(await load(peer.url, c));
      }
    } finally {
      await peer.stop();
    }
  progress('in-process ONNX Runtime: v1, v2, v4');
  const ortV1 = await inProcess('v1', 20_000);
  const ortV2 = await inProcess('v2', 2_000);
  const ortV4 = await inProcess('v4', 60);
  const at = (phases: Phase[], c: number) => phases.find((p) => p.connections === c)!;
  const at64 = at(predictorResults, 64);
  const at16 = at(predictorResults, 16);
  const peer64 = peerResults.find((p) => p.connections === 64);
  const ratio = (a: number, b: number) => Math.round((a / b) * 1000) / 1000;
  const report = {
    benchmark: 'weir-predictor',
    loadGenerator: TOOL === 'wrk' ? 'wrk -t1 (Debian package)' : 'autocannon (in this process)',
    node: process.version,
    secondsPerPhase: SECONDS,
    input: 'one row of 9 FP32 features per request, 256 distinct rows, Cache-Control: no-cache',
    predictor: predictorResults,
    sustainedAt64: steady,
    bareHttpFloor: bareResults,
    seedStylePeer:
      'skipped' in peer
        ? peer
        : { server: 'FastAPI + uvicorn (1 worker) + scikit-learn LogisticRegression', phases: peerResults },
    inProcessOnnxRuntime: { v1: ortV1, v2: ortV2, v4: ortV4 },
    predictionLogAt64: logged,
    bareVsPredictorPairedAt64: paired,
    ratios: CONNECTIONS.map((c, i) => ({
      connections: c,
      throughputVsBareHttp: ratio(predictorResults[i]!.requestsPerSecond, bareResults[i]!.requestsPerSecond),
      p99VsBareHttp: ratio(predictorResults[i]!.p99Ms, Math.max(bareResults[i]!.p99Ms, 0.001)),
    })),
    v4ExtraMsPerCall: Math.round((ortV4.meanMs - ortV2.meanMs) * 10) / 10,
    targets: {
      sustainedThroughputLastVsFirst10s: {
        measured: steady.lastOverFirst,
        target: `>= 0.9 and <= 1.1 over ${steady.seconds} s at 64 connections`,
        met: steady.lastOverFirst >= 0.9 && steady.lastOverFirst <= 1.1,
      },
      sustainedRssGrowth: {
        measured: steady.rssGrowth,
        target: '<= 0.1 from the end of the second 10 s round to the end',
        met: steady.rssGrowth <= 0.1,
      },
      p99At64ConnectionsMs: { measured: at64.p99Ms, target: '<= 10', met: at64.p99Ms <= 10 },
      throughputVsBareHttpAt64: {
        measured: pairedRatio,
        target: `>= 0.5, the median over ${PAIRED_ROUNDS} paired rounds (bareVsPredictorPairedAt64)`,
        met: pairedRatio >= 0.5,
      },
      throughput64VsThroughput16: {
        measured: ratio(at64.requestsPerSecond, at16.requestsPerSecond),
        target: '>= 0.9',
        met: at64.requestsPerSecond >= 0.9 * at16.requestsPerSecond,
      },
      throughputVsSeedStylePeerAt64: peer64
        ? {
            measured: ratio(at64.requestsPerSecond, peer64.requestsPerSecond),
            target: '>= 5',
            met: at64.requestsPerSecond >= 5 * peer64.requestsPerSecond,
          }
        : { measured: null, target: '>= 5', met: false, skipped: 'skipped' in peer ? peer.skipped : 'no result' },
      predictionLogCostAt64:
        'skipped' in logged
          ? { measured: null, target: '<= 0.15 with 0 unlogged', met: false, skipped: logged.skipped }
          : {
              measured: logged.cost,
              target: '<= 0.15 with 0 unlogged',
              // Cheap because writes were dropped does not count: every prediction must have been logged.
              met: logged.cost <= 0.15 && logged.unlogged === 0,
            },
      v4ExtraLatencyMs: {
        measured: Math.round((ortV4.meanMs - ortV2.meanMs) * 10) / 10,
        target: '>= 20',
        met: ortV4.meanMs - ortV2.meanMs >= 20,
      },
    },
  };
  const allTargetsMet = Object.values(report.targets).every((t) => t.met);
  process.stdout.write(`${JSON.stringify({ ...report, allTargetsMet }, null, 2)}\n`);
}

await main();
