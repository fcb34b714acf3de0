// The predictor's Prometheus metrics. Every series carries `model` and
// `version`; the version is the one that did the work, so counts never move to
// a new version when it is swapped in. The controller's comparisons read the
// feedback counters (proportions and sufficient statistics) straight from here.
import client from 'prom-client';
import {
  PREDICTOR_CONFUSION,
  PREDICTOR_FEEDBACK,
  PREDICTOR_LOG_UP,
  PREDICTOR_PAIRED_FEEDBACK,
} from '../../shared/metric-names.js';

const PREFIX = 'weir_predictor_';
/** Seconds; from 0.5 ms, since a small model answers in about a millisecond. */
export const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

/** The predictor's Prometheus metrics (see the module comment). */
export class PredictorMetrics {
  readonly registry = new client.Registry();
  private readonly requests;
  private readonly requestDuration;
  private readonly inferenceDuration;
  private readonly batchRows;
  private readonly queueDepth;
  private readonly cacheHits;
  private readonly cacheMisses;
  private readonly cacheEntries;
  private readonly modelLoads;
  private readonly modelReady;
  private readonly predictions;
  private readonly feedbackLabels;
  private readonly feedbackRejected;
  private readonly brierSum;
  private readonly brierSquares;
  private readonly valueSamples;
  private readonly valueGains;
  private readonly valueLosses;
  private readonly valueSquares;
  private readonly aborts;
  private readonly vanished;
  private readonly confusion;
  private readonly regressionCount;
  private readonly regressionAbsolute;
  private readonly regressionSquared;
  private readonly paired;
  private readonly pairedLossSamples;
  private readonly pairedLossVersion;
  private readonly pairedLossBaseline;
  private readonly pairedLossSquares;
  private readonly duplicates;
  private readonly unlogged;
  private readonly logUp;

  /** Read at scrape time: queued requests per version, and cache entries. */
  private readonly sources: {
    queueDepths: () => Map<string, number>;
    cacheEntries: () => number;
    servingVersion: () => string;
  } = {
    queueDepths: () => new Map(),
    cacheEntries: () => 0,
    servingVersion: () => 'none',
  };

  constructor(readonly model: string) {
    const sources = this.sources;
    const registers = [this.registry];
    const labelNames = ['model', 'version'] as const;
    /** A counter labelled model and version, plus `extra`. */
    const counter = (name: string, help: string, extra: string[] = []) =>
      new client.Counter({ name, help, labelNames: [...labelNames, ...extra], registers });
    this.requests = counter(`${PREFIX}requests_total`, 'HTTP requests by endpoint and status code', [
      'endpoint',
      'code',
    ]);
    this.requestDuration = new client.Histogram({
      name: `${PREFIX}request_duration_seconds`,
      help: 'HTTP request duration, from first byte read to response written',
      labelNames: [...labelNames, 'endpoint'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.inferenceDuration = new client.Histogram({
      name: `${PREFIX}inference_duration_seconds`,
      help: 'ONNX Runtime run duration per batch',
      labelNames,
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.batchRows = new client.Histogram({
      name: `${PREFIX}batch_size`,
      help: 'Rows per ONNX Runtime run',
      labelNames,
      buckets: BATCH_BUCKETS,
      registers,
    });
    this.queueDepth = new client.Gauge({
      name: `${PREFIX}queue_depth`,
      help: 'Requests waiting for a batch',
      labelNames,
      registers,
      collect() {
        this.reset();
        for (const [version, depth] of sources.queueDepths()) this.set({ model, version }, depth);
      },
    });
    this.cacheHits = counter(`${PREFIX}cache_hits_total`, 'Infer requests answered from the prediction cache');
    this.cacheMisses = counter(`${PREFIX}cache_misses_total`, 'Infer requests not found in the prediction cache');
    this.cacheEntries = new client.Gauge({
      name: `${PREFIX}cache_entries`,
      help: 'Entries in the prediction cache (all versions)',
      labelNames,
      registers,
      collect() {
        this.set({ model, version: sources.servingVersion() }, sources.cacheEntries());
      },
    });
    this.modelLoads = counter(`${PREFIX}model_loads_total`, 'Model load attempts by result (success, failure)', [
      'result',
    ]);
    this.modelReady = new client.Gauge({
      name: `${PREFIX}model_ready`,
      help: '1 while this version is loaded and serving',
      labelNames,
      registers,
    });
    this.predictions = counter(`${PREFIX}predictions_total`, 'Predicted rows by predicted class', ['class']);
    this.feedbackLabels = counter(PREDICTOR_FEEDBACK, 'Labelled predictions by outcome (correct, incorrect)', [
      'outcome',
    ]);
    this.feedbackRejected = counter(
      `${PREFIX}feedback_rejected_total`,
      'Feedback items rejected, by reason (unknown, expired, invalid, mismatch)',
      ['reason'],
    );
    this.brierSum = counter(
      `${PREFIX}brier_loss_sum_total`,
      'Sum of per-prediction Brier loss (p - y)^2 over labelled predictions',
    );
    this.brierSquares = counter(
      `${PREFIX}brier_loss_squares_sum_total`,
      'Sum of squared per-prediction Brier loss, for variance',
    );
    this.valueSamples = counter(
      `${PREFIX}business_value_samples_total`,
      'Labelled predictions that carried a business value',
    );
    // Business value can be negative, and Prometheus reads any decrease of a
    // counter as a reset, so the signed sum is kept as two monotonic counters:
    // net value over a window = increase(gains) - increase(losses).
    this.valueGains = counter(
      `${PREFIX}business_value_gains_sum_total`,
      'Sum of positive business value (return captured by acting on the prediction)',
    );
    this.valueLosses = counter(
      `${PREFIX}business_value_losses_sum_total`,
      'Sum of the magnitudes of negative business value',
    );
    this.valueSquares = counter(
      `${PREFIX}business_value_squares_sum_total`,
      'Sum of squared business value, for variance',
    );
    this.aborts = counter(
      `${PREFIX}client_aborts_total`,
      'Requests the client abandoned before its body arrived (not errors, not in requests_total)',
      ['endpoint'],
    );
    this.vanished = counter(
      `${PREFIX}model_vanished_total`,
      "Times the serving version's files disappeared from the repository (it keeps answering from memory; readiness turns false)",
    );
    this.confusion = counter(
      PREDICTOR_CONFUSION,
      'Labelled rows by predicted and actual class (classification; classes bounded by the model metadata)',
      ['predicted', 'actual'],
    );
    this.regressionCount = counter(`${PREFIX}regression_labelled_total`, 'Labelled rows of a regression model');
    this.regressionAbsolute = counter(
      `${PREFIX}regression_absolute_error_sum_total`,
      'Sum of |predicted − actual| (regression)',
    );
    this.regressionSquared = counter(
      `${PREFIX}regression_squared_error_sum_total`,
      'Sum of (predicted − actual)² (regression)',
    );
    this.paired = counter(
      PREDICTOR_PAIRED_FEEDBACK,
      'Labelled rows predicted by both `version` and `baseline` (a shadow and stable), by outcome: both_correct, version_only, baseline_only, neither',
      ['baseline', 'outcome'],
    );
    this.pairedLossSamples = counter(
      `${PREFIX}paired_loss_samples_total`,
      'Rows where both version and baseline have a loss',
      ['baseline'],
    );
    this.pairedLossVersion = counter(
      `${PREFIX}paired_loss_version_sum_total`,
      "Sum of the version's loss over paired rows",
      ['baseline'],
    );
    this.pairedLossBaseline = counter(
      `${PREFIX}paired_loss_baseline_sum_total`,
      "Sum of the baseline's loss over paired rows",
      ['baseline'],
    );
    this.pairedLossSquares = counter(
      `${PREFIX}paired_loss_difference_squares_sum_total`,
      'Sum of (version loss − baseline loss)² over paired rows (loss: Brier for classification, squared error for regression)',
      ['baseline'],
    );
    this.duplicates = counter(
      `${PREFIX}feedback_duplicates_total`,
      "Feedback for a version's prediction that was already scored (a retry, or a mirrored copy); answered 200, not counted again",
    );
    this.unlogged = counter(
      `${PREFIX}predictions_unlogged_total`,
      'Predictions not written to the prediction log, by reason (unavailable, backlog, error); inference still answered',
      ['reason'],
    );
    this.logUp = new client.Gauge({
      name: PREDICTOR_LOG_UP,
      help: '1 while the prediction log accepts writes',
      labelNames: ['model', 'log'],
      registers,
    });
    client.collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
  }

  /** Process-level series (CPU, memory, event loop) are labelled with the version now serving. */
  setServing(version: string | undefined): void {
    this.registry.setDefaultLabels({ model: this.model, version: version ?? 'none' });
  }

  request(version: string, endpoint: string, code: number, seconds: number): void {
    this.requests.inc({ model: this.model, version, endpoint, code: String(code) });
    this.requestDuration.observe({ model: this.model, version, endpoint }, seconds);
  }

  batch(version: string, rows: number, seconds: number): void {
    this.inferenceDuration.observe({ model: this.model, version }, seconds);
    this.batchRows.observe({ model: this.model, version }, rows);
  }

  /** Where the scrape-time gauges read from. */
  observe(sources: Partial<PredictorMetrics['sources']>): void {
    Object.assign(this.sources, sources);
  }

  cache(version: string, hit: boolean): void {
    (hit ? this.cacheHits : this.cacheMisses).inc({ model: this.model, version });
  }

  load(version: string, ok: boolean): void {
    this.modelLoads.inc({ model: this.model, version, result: ok ? 'success' : 'failure' });
  }

  ready(version: string, ready: boolean): void {
    this.modelReady.set({ model: this.model, version }, ready ? 1 : 0);
  }

  /** Predicted rows by class; a class the metadata does not declare counts as "other", so the label set stays bounded. */
  predicted(version: string, labels: ArrayLike<number>, classes: readonly number[]): void {
    // On every request: counted per class position (the last slot is "other"), no allocation per class name.
    const counts = new Array<number>(classes.length + 1).fill(0);
    for (let i = 0; i < labels.length; i++) {
      const at = classes.indexOf(labels[i]!);
      counts[at < 0 ? classes.length : at]!++;
    }
    counts.forEach((count, at) => {
      if (count > 0)
        this.predictions.inc(
          { model: this.model, version, class: at < classes.length ? String(classes[at]) : 'other' },
          count,
        );
    });
  }

  labelled(version: string, correct: boolean | undefined, brier: number | undefined, value: number | undefined): void {
    const labels = { model: this.model, version };
    if (correct !== undefined) this.feedbackLabels.inc({ ...labels, outcome: correct ? 'correct' : 'incorrect' });
    if (brier !== undefined) {
      this.brierSum.inc(labels, brier);
      this.brierSquares.inc(labels, brier * brier);
    }
    if (value !== undefined) {
      this.valueSamples.inc(labels);
      if (value >= 0) this.valueGains.inc(labels, value);
      else this.valueLosses.inc(labels, -value);
      this.valueSquares.inc(labels, value * value);
    }
  }

  /** One labelled row of a classifier, in the confusion matrix. */
  classified(version: string, predicted: number, actual: number): void {
    this.confusion.inc({ model: this.model, version, predicted: String(predicted), actual: String(actual) });
  }

  /** One labelled row of a regression model. */
  regressed(version: string, predicted: number, actual: number): void {
    const labels = { model: this.model, version };
    const error = predicted - actual;
    this.regressionCount.inc(labels);
    this.regressionAbsolute.inc(labels, Math.abs(error));
    this.regressionSquared.inc(labels, error * error);
  }

  /** One row predicted by two versions: the outcome (classification) and the losses, for paired tests. */
  pairedRow(
    version: string,
    baseline: string,
    outcome: string | undefined,
    losses: [number, number] | undefined,
  ): void {
    const labels = { model: this.model, version, baseline };
    if (outcome) this.paired.inc({ ...labels, outcome });
    if (losses) {
      this.pairedLossSamples.inc(labels);
      this.pairedLossVersion.inc(labels, losses[0]);
      this.pairedLossBaseline.inc(labels, losses[1]);
      this.pairedLossSquares.inc(labels, (losses[0] - losses[1]) ** 2);
    }
  }

  duplicate(version: string): void {
    this.duplicates.inc({ model: this.model, version });
  }

  notLogged(version: string, reason: string, count = 1): void {
    this.unlogged.inc({ model: this.model, version, reason }, count);
  }

  logState(log: string, up: boolean): void {
    this.logUp.set({ model: this.model, log }, up ? 1 : 0);
  }

  aborted(version: string, endpoint: string): void {
    this.aborts.inc({ model: this.model, version, endpoint });
  }

  modelVanished(version: string): void {
    this.vanished.inc({ model: this.model, version });
  }

  rejected(version: string, reason: string): void {
    this.feedbackRejected.inc({ model: this.model, version, reason });
  }
}
