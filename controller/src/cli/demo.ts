// `weir demo` (interim): the predictor half of the local loop. It starts v1 and
// v2, sends both the same market rows, sends ground truth back as feedback, and
// prints what each version's /metrics says. The full canary rollout replaces
// this once the controller exists.
import path from 'node:path';
import { generateMarket } from '../../../predictor/src/market/market.js';
import { labelledRows, type LabelledRow } from '../../../predictor/src/market/features.js';
import { packageRoot, startPredictor, type PredictorProcess } from '../local/predictor-process.js';
import { parseMetricsText, sumOf } from '../local/metrics-text.js';

const MODEL = 'price-direction';
const DEMO_MARKET_SEED = 7; // not the training seed: the demo trades on unseen data
const CONCURRENCY = 8;

export interface VersionResult {
  version: string;
  requests: number;
  successRate: number;
  meanLatencyMs: number;
  p95LatencyMs: number;
  labelled: number;
  accuracy: number;
  errorRate: number;
  businessValue: number;
}

interface Sent {
  id: string;
  row: LabelledRow;
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

async function sendTraffic(predictor: PredictorProcess, rows: LabelledRow[], progress: (done: number) => void): Promise<{ sent: Sent[]; latencies: number[]; failures: number }> {
  const sent: Sent[] = [];
  const latencies: number[] = [];
  let failures = 0;
  let next = 0;
  const worker = async () => {
    while (next < rows.length) {
      const row = rows[next++]!;
      const started = performance.now();
      const response = await fetch(`${predictor.url}/v2/models/${MODEL}/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: [{ name: 'features', shape: [1, row.features.length], datatype: 'FP64', data: row.features }] }),
      }).catch(() => undefined);
      latencies.push(performance.now() - started);
      if (!response || response.status !== 200) {
        failures++;
        await response?.body?.cancel();
        continue;
      }
      const body = (await response.json()) as { id: string };
      sent.push({ id: body.id, row });
      if ((sent.length + failures) % 250 === 0) progress(sent.length + failures);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { sent, latencies, failures };
}

async function sendFeedback(predictor: PredictorProcess, sent: Sent[]): Promise<void> {
  for (let start = 0; start < sent.length; start += 500) {
    const items = sent.slice(start, start + 500).map(({ id, row }) => ({ id, label: row.label, return: row.nextReturn }));
    const response = await fetch(`${predictor.url}/v2/models/${MODEL}/feedback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(items) });
    if (response.status !== 200) throw new Error(`feedback to ${predictor.url} failed: ${response.status} ${await response.text()}`);
  }
}

async function resultFor(version: string, predictor: PredictorProcess, traffic: Awaited<ReturnType<typeof sendTraffic>>): Promise<VersionResult> {
  const samples = parseMetricsText(await (await fetch(`${predictor.url}/metrics`)).text());
  const where = { version };
  const correct = sumOf(samples, 'weir_predictor_feedback_total', { ...where, outcome: 'correct' });
  const incorrect = sumOf(samples, 'weir_predictor_feedback_total', { ...where, outcome: 'incorrect' });
  const served = sumOf(samples, 'weir_predictor_requests_total', { ...where, endpoint: 'infer' });
  const ok = sumOf(samples, 'weir_predictor_requests_total', { ...where, endpoint: 'infer', code: '200' });
  const value = sumOf(samples, 'weir_predictor_business_value_gains_sum_total', where) - sumOf(samples, 'weir_predictor_business_value_losses_sum_total', where);
  const sorted = [...traffic.latencies].sort((a, b) => a - b);
  return {
    version,
    requests: served,
    successRate: served === 0 ? 0 : ok / served,
    meanLatencyMs: sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length),
    p95LatencyMs: percentile(sorted, 0.95),
    labelled: correct + incorrect,
    accuracy: correct / Math.max(1, correct + incorrect),
    errorRate: served === 0 ? 0 : 1 - ok / served,
    businessValue: value,
  };
}

function table(results: VersionResult[]): string {
  const header = ['version', 'requests', 'success', 'mean ms', 'p95 ms', 'labelled', 'accuracy', 'error rate', 'business value (log-return)'];
  const rows = results.map((r) => [
    r.version,
    String(r.requests),
    `${(r.successRate * 100).toFixed(2)}%`,
    r.meanLatencyMs.toFixed(2),
    r.p95LatencyMs.toFixed(2),
    String(r.labelled),
    `${(r.accuracy * 100).toFixed(2)}%`,
    `${(r.errorRate * 100).toFixed(2)}%`,
    r.businessValue.toFixed(4),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export async function runPredictorDemo({ requests, json }: { requests: number; json: boolean }): Promise<VersionResult[]> {
  const say = (text: string) => {
    if (!json) process.stdout.write(`${text}\n`);
  };
  const repository = path.join(packageRoot(), 'predictor', 'models');
  const rows = labelledRows(generateMarket({ seed: DEMO_MARKET_SEED, length: requests + 40 })).slice(-requests);
  const predictors: PredictorProcess[] = [];
  try {
    say(`starting predictors for ${MODEL} v1 (stable) and v2 (candidate) from ${repository}`);
    for (const version of ['v1', 'v2']) predictors.push(await startPredictor({ modelRepository: repository, model: MODEL, version }));
    predictors.forEach((p, i) => say(`  ${['v1', 'v2'][i]} serving at ${p.url}`));
    const results: VersionResult[] = [];
    for (const [i, version] of ['v1', 'v2'].entries()) {
      const predictor = predictors[i]!;
      say(`sending ${rows.length} market rows to ${version} (${CONCURRENCY} at a time)`);
      const traffic = await sendTraffic(predictor, rows, (done) => say(`  ${version}: ${done}/${rows.length} predictions`));
      say(`sending ground truth for ${traffic.sent.length} predictions to ${version}`);
      await sendFeedback(predictor, traffic.sent);
      results.push(await resultFor(version, predictor, traffic));
    }
    if (json) process.stdout.write(`${JSON.stringify({ model: MODEL, results }, null, 2)}\n`);
    else {
      say('\nper-version results (from each predictor\'s /metrics; latency measured by the client):\n');
      say(table(results));
      const [v1, v2] = results as [VersionResult, VersionResult];
      say(`\nv2 - v1: accuracy ${((v2.accuracy - v1.accuracy) * 100).toFixed(2)} points, business value ${(v2.businessValue - v1.businessValue).toFixed(4)}`);
      say('The canary rollout (10 → 25 → 50 → 100 with statistics) arrives with the controller; this demo shows the data plane it will judge.');
    }
    return results;
  } finally {
    await Promise.all(predictors.map((p) => p.stop()));
  }
}
