// What a finished demo scenario reports: every number of the results table
// from Prometheus, the business impact from the rollout's totals, the weights
// the rollout applied (from its status history), and the alerts Alertmanager
// holds at the end.
import type { ModelRollout } from '../../api/schema.js';
import { routeTarget } from '../../engine/route.js';
import { impactFromTotals } from '../../analysis/impact.js';
import type { PrometheusMetrics } from '../../providers/prometheus/provider.js';
import { spanOf } from '../../report/collect.js';
import { collectTotals } from '../../report/totals.js';
import type { BusinessImpact } from '../../stats/business-impact.js';
import type { VersionRow } from './scenario.js';
import {
  ISTIO_DURATION,
  ISTIO_REQUESTS,
  PREDICTOR_FEEDBACK,
  PREDICTOR_PAIRED_FEEDBACK,
} from '../../../../shared/metric-names.js';

/** An instant query's samples by one label (by default the version: destination_version or version). */
async function promScalar(prometheus: PrometheusMetrics, query: string, label?: string): Promise<Map<string, number>> {
  const { result } = await prometheus.instant(query);
  return new Map(
    (result as { metric: Record<string, string>; value: [number, string] }[]).map((r) => [
      (label ? r.metric[label] : (r.metric.destination_version ?? r.metric.version)) ?? '',
      Number(r.value[1]),
    ]),
  );
}

/** The seed's results table, every number from Prometheus. */
export async function resultsTable(prometheus: PrometheusMetrics, versions: string[]): Promise<VersionRow[]> {
  const served = `${ISTIO_REQUESTS}{request_mirrored="false"}`;
  const [requests, ok, sum, count, p95, correct, labelled, gains, losses] = await Promise.all([
    promScalar(prometheus, `sum by (destination_version) (${served})`),
    promScalar(
      prometheus,
      `sum by (destination_version) (${ISTIO_REQUESTS}{request_mirrored="false",response_code=~"2.."})`,
    ),
    promScalar(prometheus, `sum by (destination_version) (${ISTIO_DURATION}_sum{request_mirrored="false"})`),
    promScalar(prometheus, `sum by (destination_version) (${ISTIO_DURATION}_count{request_mirrored="false"})`),
    promScalar(
      prometheus,
      `histogram_quantile(0.95, sum by (le, destination_version) (${ISTIO_DURATION}_bucket{request_mirrored="false"}))`,
    ),
    promScalar(prometheus, `sum by (version) (${PREDICTOR_FEEDBACK}{outcome="correct"})`),
    promScalar(prometheus, `sum by (version) (${PREDICTOR_FEEDBACK})`),
    promScalar(prometheus, 'sum by (version) (weir_predictor_business_value_gains_sum_total)'),
    promScalar(prometheus, 'sum by (version) (weir_predictor_business_value_losses_sum_total)'),
  ]);
  return versions.map((version) => {
    const n = requests.get(version) ?? 0;
    return {
      version,
      requests: n,
      successRate: n > 0 ? (ok.get(version) ?? 0) / n : 0,
      meanLatencyMs: (count.get(version) ?? 0) > 0 ? (sum.get(version) ?? 0) / count.get(version)! : 0,
      p95LatencyMs: p95.get(version) ?? 0,
      accuracy: (labelled.get(version) ?? 0) > 0 ? (correct.get(version) ?? 0) / labelled.get(version)! : 0,
      errorRate: n > 0 ? 1 - (ok.get(version) ?? 0) / n : 0,
      businessValue: (gains.get(version) ?? 0) - (losses.get(version) ?? 0),
    };
  });
}

/** The canary weights the rollout applied, in order, as its history records them. */
export function weightsApplied(rollout: ModelRollout): number[] {
  return rollout.status!.history.map((h) => h.canaryWeight).filter((w, i, all) => i === 0 || w !== all[i - 1]);
}

/** The route's weights per version as the rollout's status leaves them. */
export function finalWeights(rollout: ModelRollout): Record<string, number> {
  const status = rollout.status!;
  const target = routeTarget(rollout.spec, {
    canaryWeight: status.canaryWeight,
    mirrorPercent: status.mirrorPercent,
    ...(status.baselineWeight !== undefined ? { baselineWeight: status.baselineWeight } : {}),
    ...(status.weights ? { weights: status.weights } : {}),
  });
  return Object.fromEntries(target.weights.map((w) => [w.ref.version, w.weight]));
}

/** Each version's requests, share of all requests, and accuracy, from the results table. */
export function versionShares(
  table: VersionRow[],
): Record<string, { requests: number; share: number; accuracy: number }> {
  const total = table.reduce((sum, row) => sum + row.requests, 0);
  return Object.fromEntries(
    table.map((row) => [
      row.version,
      { requests: row.requests, share: total > 0 ? row.requests / total : 0, accuracy: row.accuracy },
    ]),
  );
}

/** The last sample-ratio check the rollout recorded (null when none was made). */
export function srmOf(rollout: ModelRollout): { pValue: number | null; detected: boolean } | null {
  const record = rollout.status!.sampleRatio;
  // After the last split stage the record is gone (the 100% stage has none); its last reason is in the history.
  const reasons = [...rollout.status!.history.flatMap((h) => h.analysis ?? []), ...rollout.status!.analysis];
  const last = reasons.filter((r) => r.kind === 'sample-ratio').at(-1);
  if (record) return { pValue: record.pValue ?? null, detected: record.detected };
  return last ? { pValue: last.pValue ?? null, detected: last.verdict === 'mismatch' } : null;
}

/** The rollout's business impact over its whole run, when it has coefficients and Prometheus has both versions' totals. */
export async function businessOf(prometheus: PrometheusMetrics, rollout: ModelRollout): Promise<BusinessImpact | null> {
  const { business, alpha } = rollout.spec.analysis;
  if (!business) return null;
  const { totals } = await collectTotals(prometheus, rollout, spanOf(rollout, Date.now()));
  if (totals.length !== 2 || !totals.every((t) => t.requests > 0 && t.labelled > 0)) return null;
  return impactFromTotals(totals[0]!, totals[1]!, business, alpha);
}

/** The alerts Alertmanager lists as active. */
export async function activeAlerts(
  alertmanagerUrl: string,
): Promise<{ alertname: string; severity: string; state: string }[]> {
  const alerts = (await (await fetch(`${alertmanagerUrl}/api/v2/alerts`)).json()) as {
    labels: Record<string, string>;
    status: { state: string };
  }[];
  return alerts.map((a) => ({
    alertname: a.labels.alertname ?? '',
    severity: a.labels.severity ?? '',
    state: a.status.state,
  }));
}

/** What the mirror stage found: the shadow and stable scored on the same labelled requests. */
export interface ShadowResult {
  version: string;
  /** Labelled requests both answered. */
  labelled: number;
  accuracy: number;
  stableAccuracy: number;
  /** The paired comparison's last verdict in the mirror stage (harmful, inconclusive, better, ...), or nodata. */
  verdict: string;
}

/** The shadow's paired results, from Prometheus (counts) and the rollout's history (verdict). */
export async function shadowOf(
  prometheus: PrometheusMetrics,
  rollout: ModelRollout,
  comparison = 'shadow-accuracy',
): Promise<ShadowResult> {
  const { stable, canary } = rollout.spec;
  const counts = await promScalar(
    prometheus,
    `sum by (outcome) (${PREDICTOR_PAIRED_FEEDBACK}{model="${rollout.spec.model}",version="${canary.version}",baseline="${stable.version}"})`,
    'outcome',
  );
  const get = (outcome: string) => counts.get(outcome) ?? 0;
  const labelled = get('both_correct') + get('version_only') + get('baseline_only') + get('neither');
  const share = (n: number) => (labelled > 0 ? n / labelled : 0);
  // Paired comparisons are judged in the mirror stage only: the last judgement is the rollback's, the
  // advance's out of it, or (still mirroring) the latest hold's.
  const judged = [
    ...(rollout.status?.history ?? []).flatMap((h) => h.analysis ?? []),
    ...(rollout.status?.analysis ?? []),
  ].filter((r) => r.kind === 'comparison' && r.metric === comparison);
  return {
    version: canary.version,
    labelled,
    accuracy: share(get('both_correct') + get('version_only')),
    stableAccuracy: share(get('both_correct') + get('baseline_only')),
    verdict: judged.at(-1)?.verdict ?? 'nodata',
  };
}
