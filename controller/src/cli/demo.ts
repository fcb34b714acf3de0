// `weir demo`: a full canary rollout on this machine, on one live screen.
import type { Reason } from '../api/schema.js';
import {
  runScenario,
  SCENARIOS,
  type ScenarioName,
  type ScenarioResult,
  type ScenarioView,
  type VersionRow,
} from '../local/demo/scenario.js';
import { formatNumber, formatSplit } from '../../../shared/format.js';
import { BASELINE_VERSION, DEMO_WARMUP } from '../local/demo/rollout-spec.js';
import { startDashboard } from './dashboard.js';

const fmt = formatNumber;

function verdictLine(r: Reason): string {
  const gate =
    r.margin !== undefined
      ? `, gate: ${r.nonInferior ? 'within' : 'not yet within'} margin ${fmt(r.margin)}`
      : r.minimum
        ? `, ${fmt(r.minimum.have)} of ${r.minimum.needed} ${r.minimum.what} needed`
        : '';
  const extra =
    r.kind === 'comparison' && r.pValue !== undefined
      ? ` (effect ${fmt(r.effect ?? NaN)}, CI ${r.ci ? `[${fmt(r.ci[0]!)}, ${fmt(r.ci[1]!)}]` : '-'}, p ${fmt(r.adjustedPValue ?? r.pValue)}, n ${r.samples?.stable}/${r.samples?.canary}${gate})`
      : r.kind === 'comparison' && gate
        ? ` (${gate.slice(2)})`
        : '';
  return `  ${r.kind.padEnd(10)} ${(r.metric ?? '').padEnd(15)} ${r.verdict.padEnd(13)}${extra}`;
}

function screen(view: ScenarioView): string {
  const bar = (w: number) => `${'█'.repeat(Math.round(w / 5))}${'░'.repeat(20 - Math.round(w / 5))}`;
  const baseline = view.baselineWeight;
  const stable = 100 - view.canaryWeight - (baseline ?? 0);
  const canary = SCENARIOS[view.scenario];
  const width = Math.max(canary.length, baseline === undefined ? 2 : BASELINE_VERSION.length);
  const split = view.weights
    ? Object.entries(view.weights)
    : [
        ['v1', stable] as const,
        ...(baseline === undefined ? [] : [[BASELINE_VERSION, baseline] as const]),
        [canary, view.canaryWeight] as const,
      ];
  const title = view.weights
    ? `experiment: control v1, candidates ${Object.keys(view.weights).slice(1).join(', ')}`
    : `stable v1 → canary ${canary}${baseline === undefined ? '' : `, judged against baseline ${BASELINE_VERSION}`}`;
  return [
    `weir demo: scenario ${view.scenario} (${title})   ${view.elapsedSeconds.toFixed(0)} s`,
    '',
    `phase ${view.phase}   stage ${view.stage}   (warm-up: each stage's first ${DEMO_WARMUP} is not compared)`,
    ...split.map(([version, weight]) => `  ${version.padEnd(width)} ${bar(weight)} ${weight}%`),
    '',
    `load: ${view.sent} requests sent, ${view.failed} failed`,
    'verdicts:',
    ...view.reasons.filter((r) => r.kind !== 'gate').map(verdictLine),
    '',
    `next: ${view.message}`,
    ...(view.approvedBy
      ? [`approval gate before 100%: approved by ${view.approvedBy}, through the same path as \`weir approve\``]
      : []),
  ].join('\n');
}

function table(rows: VersionRow[]): string {
  const header = ['version', 'requests', 'success', 'mean ms', 'p95 ms', 'accuracy', 'error rate', 'business value'];
  const cells = rows.map((r) => [
    r.version,
    String(r.requests),
    `${(r.successRate * 100).toFixed(2)}%`,
    r.meanLatencyMs.toFixed(2),
    r.p95LatencyMs.toFixed(2),
    `${(r.accuracy * 100).toFixed(2)}%`,
    `${(r.errorRate * 100).toFixed(2)}%`,
    r.businessValue.toFixed(4),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((x, i) => x.padStart(widths[i]!)).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

function summary(result: ScenarioResult): string {
  const lines = [
    '',
    result.winner === null
      ? `result: ${result.phase} after ${result.durationSeconds} s; canary weights applied: ${result.weightsApplied.join(' → ')}; failed requests: ${result.failedRequests}`
      : `result: ${result.phase} after ${result.durationSeconds} s; winner ${result.winner}; final split ${formatSplit(result.finalWeights)}; ${result.weightHistory.length} splits applied; failed requests: ${result.failedRequests}`,
    ...(result.rollbackReason ? [`rollback reason: ${result.rollbackReason}`] : []),
    '',
    'per-version results (from Prometheus):',
    table(result.table),
  ];
  const b = result.business;
  const c = result.coefficients;
  if (b && c) {
    lines.push(
      '',
      `business impact = ${c.revenuePerAccuracyPoint} × Δaccuracy (points) − ${c.costPerMs} × Δlatency (ms) ${c.riskPerErrorPoint < 0 ? '−' : '+'} ${Math.abs(c.riskPerErrorPoint)} × Δerror rate (points):`,
      `  accuracy ${fmt(b.contributions.accuracy)}, latency ${fmt(b.contributions.latency)}, error rate ${fmt(b.contributions.errorRate)}`,
      `  value ${fmt(b.value)}, 95% CI [${fmt(b.ci[0])}, ${fmt(b.ci[1])}], P(value > 0) ${fmt(b.probabilityPositive)}`,
      `  recommendation: ${b.recommendation}`,
    );
  }
  lines.push(
    '',
    `alerts sent to Alertmanager: ${result.alertsSent}; active at the end: ${result.alertsActive.map((a) => `${a.alertname} (${a.severity})`).join(', ') || 'none'}`,
  );
  if (result.reportPath)
    lines.push(
      '',
      `experiment report: ${result.reportPath} (open it in a browser; weir report NAME writes one for any rollout)`,
    );
  return lines.join('\n');
}

/** `weir demo`: runs one scenario with a live screen (or one JSON line) and writes its report. */
export async function runDemo(
  scenario: ScenarioName,
  {
    json,
    reportPath,
    baseline = false,
    dashboard,
  }: { json: boolean; reportPath: string; baseline?: boolean; dashboard?: { port: number } },
): Promise<ScenarioResult> {
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    if (++interrupts > 1) process.exit(130); // the exit hook still kills the children
    if (!controller.signal.aborted)
      process.stderr.write('\nstopping: cleaning up everything the demo started (Ctrl-C again to force)\n');
    controller.abort();
  };
  // Ctrl-C, a closed terminal or a kill: stop everything the demo started, then exit.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSigint);
  // A reader that went away (e.g. `| head`): stop cleanly instead of dying mid-run.
  const onPipeError = (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') controller.abort();
  };
  process.stdout.on('error', onPipeError);
  const live = process.stdout.isTTY && !json;
  let lastMessage = '';
  try {
    if (!json)
      process.stdout.write(`starting predictors, gateway, Prometheus and Alertmanager for scenario ${scenario}...\n`);
    let dashboardLine = '';
    const result = await runScenario(scenario, {
      signal: controller.signal,
      reportPath,
      baseline,
      ...(dashboard
        ? {
            onStarted: async ({ rolloutsDir, prometheusUrl }) => {
              const { url, token, server } = await startDashboard({
                local: rolloutsDir,
                port: dashboard.port,
                prometheus: prometheusUrl,
              });
              dashboardLine = `dashboard: ${url}#token=${token} (it stops with the demo)`;
              process.stderr.write(`${dashboardLine}\n`);
              return () => server.close();
            },
          }
        : {}),
      onView: (view) => {
        if (json) return;
        if (live) process.stdout.write(`\x1b[H\x1b[2J${screen(view)}\n${dashboardLine}\n`);
        else if (view.message !== lastMessage)
          process.stdout.write(
            `${view.elapsedSeconds.toFixed(0).padStart(4)}s  ${String(view.canaryWeight).padStart(3)}%  ${view.phase.padEnd(16)} ${view.message}\n`,
          );
        lastMessage = view.message;
      },
    });
    if (json) {
      const { scenario: s, phase, weightsApplied, failedRequests, durationSeconds, rollbackReason } = result;
      process.stdout.write(
        `${JSON.stringify({ scenario: s, phase, weightsApplied, failedRequests, durationSeconds, rollbackReason, table: result.table, recommendation: result.business?.recommendation ?? null, alertsSent: result.alertsSent, alertsActive: result.alertsActive, report: result.reportPath, answeredBy: result.answeredBy, baseline: result.baseline, finalWeights: result.finalWeights, versions: result.versions, srm: result.srm, winner: result.winner, steps: result.steps, ...(result.weightHistory.length > 0 ? { weightHistory: result.weightHistory } : {}), ...(result.shadow ? { shadow: result.shadow } : {}) })}\n`,
      );
    } else process.stdout.write(`${summary(result)}\n`);
    return result;
  } finally {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(signal, onSigint);
    process.stdout.off('error', onPipeError);
  }
}
