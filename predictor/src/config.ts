// weir-predictor's options: one table drives the command-line flags, the
// environment variables and --help, so they cannot drift apart.
import { Command, Option } from 'commander';
import { parseDuration } from '../../shared/duration.js';
import { UsageError } from '../../shared/errors.js';
import { isLogLevel, type LogLevel } from '../../shared/log.js';
import { checkRedisUrl } from './prediction-log/log.js';

/** weir-predictor's settings, from flags and environment variables (flags win). */
export interface PredictorConfig {
  modelRepository: string;
  model: string;
  version: string | undefined;
  host: string;
  port: number;
  maxBodyBytes: number;
  maxBatchRows: number;
  batchDelayMs: number;
  maxQueue: number;
  cacheMaxEntries: number;
  cacheTtlMs: number;
  feedbackMaxEntries: number;
  predictionLog: string | undefined;
  feedbackToken: string | undefined;
  feedbackTtlMs: number;
  maxFeedbackValue: number;
  intraOpThreads: number;
  inlineMaxRunMs: number;
  pollIntervalMs: number;
  drainTimeoutMs: number;
  adminToken: string | undefined;
  logLevel: LogLevel;
}

type Kind = 'string' | 'segment' | 'int' | 'number' | 'duration' | 'level' | 'redis';
interface Spec {
  key: keyof PredictorConfig;
  flag: string;
  env: string;
  kind: Kind;
  help: string;
  default?: string;
  required?: boolean;
  secret?: boolean;
}

const SPECS: Spec[] = [
  {
    key: 'modelRepository',
    flag: '--model-repository <dir>',
    env: 'WEIR_MODEL_REPOSITORY',
    kind: 'string',
    required: true,
    help: 'folder holding <model>/<version>/model.onnx (+ metadata.json)',
  },
  {
    key: 'model',
    flag: '--model <name>',
    env: 'WEIR_MODEL',
    kind: 'segment',
    required: true,
    help: 'model name to serve (a folder name in the repository)',
  },
  {
    key: 'version',
    flag: '--version <v>',
    env: 'WEIR_MODEL_VERSION',
    kind: 'segment',
    help: 'serve exactly this version (default: the latest version in the repository, hot-swapped as new ones appear)',
  },
  {
    key: 'host',
    flag: '--host <addr>',
    env: 'WEIR_HOST',
    kind: 'string',
    default: '0.0.0.0',
    help: 'address to listen on',
  },
  {
    key: 'port',
    flag: '--port <n>',
    env: 'WEIR_PORT',
    kind: 'int',
    default: '8080',
    help: 'port to listen on (0 picks a free one)',
  },
  {
    key: 'maxBodyBytes',
    flag: '--max-body-bytes <n>',
    env: 'WEIR_MAX_BODY_BYTES',
    kind: 'int',
    default: String(4 * 1024 * 1024),
    help: 'largest request body; larger ones get 413',
  },
  {
    key: 'maxBatchRows',
    flag: '--max-batch-rows <n>',
    env: 'WEIR_MAX_BATCH_ROWS',
    kind: 'int',
    default: '64',
    help: 'most rows in one dynamic batch',
  },
  {
    key: 'batchDelayMs',
    flag: '--batch-delay <duration>',
    env: 'WEIR_BATCH_DELAY',
    kind: 'duration',
    default: '0ms',
    help: 'how long an idle model waits for more requests to batch (0ms: run at once, batch only while busy)',
  },
  {
    key: 'maxQueue',
    flag: '--max-queue <n>',
    env: 'WEIR_MAX_QUEUE',
    kind: 'int',
    default: '512',
    help: 'requests that may wait for a batch; more get 503',
  },
  {
    key: 'cacheMaxEntries',
    flag: '--cache-max-entries <n>',
    env: 'WEIR_CACHE_MAX_ENTRIES',
    kind: 'int',
    default: '10000',
    help: 'prediction cache size (0 disables it); "Cache-Control: no-cache" bypasses it per request',
  },
  {
    key: 'cacheTtlMs',
    flag: '--cache-ttl <duration>',
    env: 'WEIR_CACHE_TTL',
    kind: 'duration',
    default: '60s',
    help: 'how long a cached prediction stays valid',
  },
  {
    key: 'feedbackMaxEntries',
    flag: '--feedback-max-entries <n>',
    env: 'WEIR_FEEDBACK_MAX_ENTRIES',
    kind: 'int',
    default: '200000',
    help: 'recent predictions the in-process log keeps for ground-truth feedback (without --prediction-log)',
  },
  {
    key: 'predictionLog',
    flag: '--prediction-log <url>',
    env: 'WEIR_PREDICTION_LOG',
    kind: 'redis',
    help: 'redis://HOST:PORT[/DB]: log every prediction in this shared Redis, so feedback posted to any replica of any version is counted for each version that predicted the request (default: in this process only)',
  },
  {
    key: 'feedbackToken',
    flag: '--feedback-token <token>',
    env: 'WEIR_PREDICTOR_FEEDBACK_TOKEN',
    kind: 'string',
    secret: true,
    help: 'bearer token that POST …/feedback must carry; whoever can post labels can steer a rollout (prefer the env var)',
  },
  {
    key: 'feedbackTtlMs',
    flag: '--feedback-ttl <duration>',
    env: 'WEIR_FEEDBACK_TTL',
    kind: 'duration',
    default: '1h',
    help: 'how long feedback for a prediction is accepted (later: 410 for a grace of a tenth of this, 1 min to 1 h; then 404)',
  },
  {
    key: 'maxFeedbackValue',
    flag: '--max-feedback-value <n>',
    env: 'WEIR_MAX_FEEDBACK_VALUE',
    kind: 'number',
    default: '1e9',
    help: 'largest |value| or |return| a feedback item may carry; larger ones are refused with 400, so counters stay finite',
  },
  {
    key: 'intraOpThreads',
    flag: '--intra-op-threads <n>',
    env: 'WEIR_INTRA_OP_THREADS',
    kind: 'int',
    default: '1',
    help: 'ONNX Runtime threads per run',
  },
  {
    key: 'inlineMaxRunMs',
    flag: '--inline-max-run <duration>',
    env: 'WEIR_INLINE_MAX_RUN',
    kind: 'duration',
    default: '2ms',
    help: 'a model whose full warm-up batch runs (median) within this runs on the HTTP thread (no thread hop); slower ones run in a worker thread so they never block it (0ms: always a worker)',
  },
  {
    key: 'pollIntervalMs',
    flag: '--poll-interval <duration>',
    env: 'WEIR_POLL_INTERVAL',
    kind: 'duration',
    default: '2s',
    help: 'how often the repository is rescanned (file events also trigger a scan)',
  },
  {
    key: 'drainTimeoutMs',
    flag: '--drain-timeout <duration>',
    env: 'WEIR_DRAIN_TIMEOUT',
    kind: 'duration',
    default: '25s',
    help: 'on SIGTERM, the longest wait for in-flight requests',
  },
  {
    key: 'adminToken',
    flag: '--admin-token <token>',
    env: 'WEIR_PREDICTOR_ADMIN_TOKEN',
    kind: 'string',
    secret: true,
    help: 'bearer token that enables POST /v2/repository/... (load, unload, index); prefer the env var',
  },
  {
    key: 'logLevel',
    flag: '--log-level <level>',
    env: 'WEIR_LOG_LEVEL',
    kind: 'level',
    default: 'info',
    help: 'debug, info, warn or error',
  },
];

function convert(spec: Spec, raw: string): PredictorConfig[keyof PredictorConfig] {
  const name = spec.flag.split(' ')[0];
  switch (spec.kind) {
    case 'int': {
      const n = Number(raw);
      if (!Number.isInteger(n) || n < 0)
        throw new UsageError(`${name} (${spec.env}): "${raw}" is not a whole number >= 0`);
      return n;
    }
    case 'number': {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n) || n <= 0)
        throw new UsageError(`${name} (${spec.env}): "${raw}" is not a positive number`);
      return n;
    }
    case 'segment':
      // One folder of the repository: no separators, no "." or "..", so nothing outside it can be named.
      if (!/^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/.test(raw))
        throw new UsageError(
          `${name} (${spec.env}): "${raw}" is not a single folder name; expected letters, digits, ".", "_" and "-", not starting with "." (such as v2)`,
        );
      return raw;
    case 'duration':
      return parseDuration(raw, `${name} (${spec.env})`);
    case 'redis':
      checkRedisUrl(raw);
      return raw;
    case 'level':
      if (!isLogLevel(raw))
        throw new UsageError(`${name} (${spec.env}): "${raw}" is not a log level; expected debug, info, warn or error`);
      return raw;
    default:
      return raw;
  }
}

/** Parses argv and the environment (flags win). Throws UsageError naming the flag on bad values. */
export function parseConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): PredictorConfig {
  const program = new Command('weir-predictor')
    .description(
      'Serve one ONNX model version over the Open Inference Protocol v2, with dynamic batching, a prediction cache, hot reload, ground-truth feedback and Prometheus metrics.',
    )
    .helpOption('-h, --help', 'show this help')
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) })
    .addHelpText(
      'after',
      `
Endpoints:
  POST /v2/models/<model>[/versions/<v>]/infer      predict (OIP v2 JSON; FP32, FP64, INT32, INT64)
  POST /v2/models/<model>/feedback                  {"id", "label", "value"?, "return"?} or a list;
                                                    200 counted or duplicate, 404 unknown, 410 expired,
                                                    503 + Retry-After while the prediction log is down
  GET  /v2, /v2/health/{live,ready}, /v2/models/<model>[/versions/<v>][/ready]
  POST /v2/repository/models/<model>/{load,unload}  needs --admin-token
  GET  /metrics                                     Prometheus (weir_predictor_*)

Example:
  weir-predictor --model-repository predictor/models --model price-direction --version v1 --port 8080
  curl -s localhost:8080/v2/models/price-direction/infer -d '{"inputs":[{"name":"features","shape":[1,9],"datatype":"FP32","data":[0,0,0,0,0,0,0.5,0,0.01]}]}'`,
    );
  const options = SPECS.map((spec) => {
    // commander reads the variable itself (Option.env) and shows it in --help; flags win over it.
    const option = new Option(spec.flag, spec.help).env(spec.env);
    if (spec.default !== undefined) option.default(spec.default);
    program.addOption(option);
    return option;
  });
  // commander reads process.env; a caller's own environment (tests) stands in for it during the parse.
  const saved = process.env;
  process.env = env;
  try {
    program.parse(argv, { from: 'user' });
  } finally {
    process.env = saved;
  }
  const values = program.opts<Record<string, string | undefined>>();
  const config: Record<string, unknown> = {};
  SPECS.forEach((spec, i) => {
    // commander names values after the flag (--cache-ttl → cacheTtl), not after our keys.
    const raw = values[options[i]!.attributeName()];
    if (raw === undefined || raw === '') {
      if (spec.required) throw new UsageError(`${spec.flag.split(' ')[0]} is required (or set ${spec.env})`);
      config[spec.key] = undefined;
      return;
    }
    config[spec.key] = convert(spec, raw);
  });
  const result = config as unknown as PredictorConfig;
  if (result.port > 65535) throw new UsageError(`--port (WEIR_PORT): ${result.port} is not a port; expected 0..65535`);
  if (result.maxBatchRows < 1) throw new UsageError('--max-batch-rows (WEIR_MAX_BATCH_ROWS): must be at least 1');
  if (result.intraOpThreads < 1) throw new UsageError('--intra-op-threads (WEIR_INTRA_OP_THREADS): must be at least 1');
  // Squares of values are summed: at 1e100 each, it takes 1e108 of them to overflow a double.
  if (result.maxFeedbackValue > 1e100)
    throw new UsageError(
      `--max-feedback-value (WEIR_MAX_FEEDBACK_VALUE): ${result.maxFeedbackValue} is above 1e100; sums of squares of such values would overflow`,
    );
  return result;
}

/** The config with secrets masked, for logging. */
export function redacted(config: PredictorConfig): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...config };
  for (const spec of SPECS) if (spec.secret && copy[spec.key] !== undefined) copy[spec.key] = '<redacted>';
  // A Redis URL may carry a password: it is shown masked.
  if (config.predictionLog) copy.predictionLog = checkRedisUrl(config.predictionLog);
  return copy;
}
