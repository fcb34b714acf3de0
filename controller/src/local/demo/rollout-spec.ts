// The demo's ModelRollout: the seed model on short stages, so a scenario ends in minutes.
import { stringify } from 'yaml';
import {
  ISTIO_DURATION,
  ISTIO_REQUESTS,
  PREDICTOR_FEEDBACK,
  PREDICTOR_PAIRED_FEEDBACK,
} from '../../../../shared/metric-names.js';

/** Each demo stage's warm-up: its first seconds are not compared. */
export const DEMO_WARMUP = '5s';

/** How long the blue-green demo keeps v1 ready after the switch, before it is Promoted. */
export const BLUE_GREEN_SCALE_DOWN_DELAY = '10s';

/** The baseline's version label: its predictors serve v1's model files under this name. */
export const BASELINE_VERSION = 'v1-baseline';

/** An experiment the demo runs: v1 is the control, the canary and these candidates compete. */
export interface DemoExperiment {
  type: 'abn' | 'bandit';
  candidates: string[];
}

/** The experiment's strategy: A/B/n on an even split, or a Thompson bandit on accuracy that stops after 10 s of P(best) ≥ 0.95. */
function experimentOf({ type }: DemoExperiment) {
  return type === 'abn'
    ? { type }
    : { type, algorithm: 'thompson', reward: 'accuracy', floor: 2, stopProbability: 0.95, sustain: '10s' };
}

/** The paired counters of the shadow ({{canary}}) against stable on the same requests. */
function pairedQuery(outcome?: string): string {
  const where = `model="{{model}}",version="{{canary}}",baseline="{{stable}}"${outcome ? `,outcome="${outcome}"` : ''}`;
  return `sum(increase(${PREDICTOR_PAIRED_FEEDBACK}{${where}}[{{window}}])) or vector(0)`;
}

/**
 * The demo's ModelRollout for v1 → `canary`, as YAML. With `shadow`, a mirror
 * stage comes first: the canary answers a copy of every request, nobody sees
 * its answers, and paired comparisons judge it against stable on the same
 * requests before it takes any user traffic. With `baseline`, the canary is
 * judged against a baseline of v1 started with it, not against the warm v1.
 * A longer `minStageDuration` keeps each stage open long enough for a check
 * that needs traffic (the srm scenario's).
 */
export function demoRolloutYaml(
  canary: string,
  {
    shadow = false,
    baseline = false,
    minStageDuration = '10s',
    experiment,
    blueGreen = false,
  }: {
    shadow?: boolean;
    baseline?: boolean;
    minStageDuration?: string;
    experiment?: DemoExperiment;
    /** Blue-green: after the shadow stage, one switch to 100%, held for scaleDownDelay before Promoted. */
    blueGreen?: boolean;
  } = {},
): string {
  const window = '[{{window}}]';
  // In the mirror stage the shadow serves only mirrored copies: its guardrails must see them.
  const mirrored = shadow ? '' : ',request_mirrored="false"';
  const served = `${ISTIO_REQUESTS}{destination_version="{{version}}"${mirrored}}`;
  return stringify({
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'ModelRollout',
    metadata: { name: 'price-direction', namespace: 'local' },
    spec: {
      model: 'price-direction',
      virtualService: { name: 'predictor', route: 'primary' },
      stable: { version: 'v1' },
      canary: { version: canary },
      // Kayenta's baseline: fresh predictors of v1's model, started with the canary and given its share.
      ...(baseline ? { baseline: { version: BASELINE_VERSION } } : {}),
      ...(experiment ? { candidates: experiment.candidates.map((version) => ({ version })) } : {}),
      strategy: {
        ...(experiment ? { experiment: experimentOf(experiment) } : {}),
        ...(shadow ? { mirror: { percent: 100, duration: '15s' } } : {}),
        ...(blueGreen ? { steps: [100], scaleDownDelay: BLUE_GREEN_SCALE_DOWN_DELAY } : { steps: [10, 25, 50, 100] }),
        minStageDuration,
        minSamplesPerStage: 100,
        // The stage gate waits for evidence: a good canary takes 1.5–3 min here, now and then longer.
        maxDuration: '6m',
        approvals: [100],
        onInconclusive: 'rollback',
      },
      analysis: {
        interval: '2s',
        // Each stage's first 5 s (JIT, caches, a new share of load) are not compared.
        warmup: DEMO_WARMUP,
        alpha: 0.05,
        sequential: 'msprt',
        guardrails: [
          {
            name: 'error-rate',
            query: `(sum(increase(${ISTIO_REQUESTS}{destination_version="{{version}}",response_code!~"2.."${mirrored}}${window})) or vector(0)) / sum(increase(${served}${window}))`,
            max: 0.01,
            failureLimit: 2,
          },
          {
            name: 'p95-latency-ms',
            query: `histogram_quantile(0.95, sum by (le) (rate(${ISTIO_DURATION}_bucket{destination_version="{{version}}"${mirrored}}${window})))`,
            // Healthy versions sit near 5 ms; 40 ms with 3 strikes leaves room for a busy machine.
            max: 40,
            failureLimit: 3,
          },
        ],
        comparisons: [
          {
            name: 'accuracy',
            type: 'proportion',
            role: 'primary',
            better: 'higher',
            minEffect: 0.01,
            tau: 0.05,
            successes: `sum(increase(${PREDICTOR_FEEDBACK}{model="{{model}}",version="{{version}}",outcome="correct"}${window}))`,
            trials: `sum(increase(${PREDICTOR_FEEDBACK}{model="{{model}}",version="{{version}}"}${window}))`,
          },
          {
            name: 'latency',
            type: 'histogram',
            role: 'guard',
            better: 'lower',
            // On the probability-of-superiority scale (0.5 = no shift). Processes sharing
            // two cores drift by ~0.15 when the machine is busy; v4 shifts by 0.5.
            minEffect: 0.25,
            // Shifts below 5 ms are not this guard's business: at a 10% share each canary replica
            // answers a few requests a second and wakes for each one, a fraction of a millisecond
            // slower than a busy stable one, and the rank test would judge only that.
            resolution: 5,
            buckets: `sum by (le) (increase(${ISTIO_DURATION}_bucket{destination_version="{{version}}",request_mirrored="false"}${window}))`,
          },
          ...(shadow
            ? [
                {
                  // McNemar on the discordant pairs: only the requests where the two disagree carry information.
                  name: 'shadow-accuracy',
                  type: 'paired-proportion',
                  role: 'guard',
                  better: 'higher',
                  minEffect: 0.01,
                  tau: 0.05,
                  canaryOnly: pairedQuery('version_only'),
                  stableOnly: pairedQuery('baseline_only'),
                  pairs: pairedQuery(),
                },
              ]
            : []),
        ],
        business: { revenuePerAccuracyPoint: 1000, costPerMs: 20, riskPerErrorPoint: -500 },
      },
    },
  });
}
