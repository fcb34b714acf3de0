import { describe, expect, test } from '@jest/globals';
import { parseConfig, redacted } from './config.js';
import { parseDuration } from '../../shared/duration.js';

const required = ['--model-repository', '/models', '--model', 'm'];

describe('parseConfig', () => {
  test('defaults, flags and environment variables (flags win)', () => {
    const config = parseConfig([...required, '--port', '9000'], {
      WEIR_PORT: '7000',
      WEIR_CACHE_TTL: '2m',
      WEIR_MODEL_VERSION: 'v3',
    });
    expect(config).toMatchObject({
      modelRepository: '/models',
      model: 'm',
      version: 'v3',
      port: 9000,
      cacheTtlMs: 120_000,
      maxBatchRows: 64,
      batchDelayMs: 0,
      logLevel: 'info',
    });
    expect(parseConfig([], { WEIR_MODEL_REPOSITORY: '/r', WEIR_MODEL: 'x' }).modelRepository).toBe('/r');
  });

  test.each([
    [[], '--model-repository is required (or set WEIR_MODEL_REPOSITORY)'],
    [[...required, '--port', 'eighty'], '--port (WEIR_PORT): "eighty" is not a whole number >= 0'],
    [[...required, '--port', '70000'], '--port (WEIR_PORT): 70000 is not a port'],
    [[...required, '--cache-ttl', '10 minutes'], '--cache-ttl (WEIR_CACHE_TTL): "10 minutes" is not a duration'],
    [[...required, '--log-level', 'loud'], '--log-level (WEIR_LOG_LEVEL): "loud" is not a log level'],
    [[...required, '--max-batch-rows', '0'], '--max-batch-rows (WEIR_MAX_BATCH_ROWS): must be at least 1'],
    [
      [...required, '--version', '../../outside'],
      '--version (WEIR_MODEL_VERSION): "../../outside" is not a single folder name',
    ],
    [[...required, '--version', '..'], 'is not a single folder name'],
    [['--model-repository', '/models', '--model', 'a/b'], '--model (WEIR_MODEL): "a/b" is not a single folder name'],
    [
      [...required, '--max-feedback-value', 'Infinity'],
      '--max-feedback-value (WEIR_MAX_FEEDBACK_VALUE): "Infinity" is not a positive number',
    ],
    [
      [...required, '--max-feedback-value', '1e200'],
      '--max-feedback-value (WEIR_MAX_FEEDBACK_VALUE): 1e+200 is above 1e100',
    ],
  ])('%j is refused: %s', (argv, message) => {
    expect(() => parseConfig(argv, {})).toThrow(message);
  });

  test('the admin token never appears in what is logged', () => {
    const config = parseConfig(required, { WEIR_PREDICTOR_ADMIN_TOKEN: 's3cret' });
    expect(config.adminToken).toBe('s3cret');
    expect(JSON.stringify(redacted(config))).not.toContain('s3cret');
  });

  test('the feedback token and a Redis password never appear in what is logged; a bad log URL is named, not echoed', () => {
    const config = parseConfig([...required, '--prediction-log', 'redis://:hunter2@redis.models:6379/0'], {
      WEIR_PREDICTOR_FEEDBACK_TOKEN: 'labeller-token',
    });
    expect(config.predictionLog).toBe('redis://:hunter2@redis.models:6379/0');
    const logged = JSON.stringify(redacted(config));
    expect(logged).not.toContain('hunter2');
    expect(logged).not.toContain('labeller-token');
    expect(logged).toContain('redis.models:6379/0');
    expect(() => parseConfig([...required, '--prediction-log', 'redis//:hunter2@x'], {})).toThrow(
      /^--prediction-log \(WEIR_PREDICTION_LOG\): the value is not a URL/,
    );
    expect(() => parseConfig([...required, '--prediction-log', 'redis//:hunter2@x'], {})).not.toThrow(/hunter2/);
    expect(() => parseConfig([...required, '--prediction-log', 'http://redis:6379'], {})).toThrow(
      '"http:" is not supported; expected redis://HOST:PORT[/DB]',
    );
    expect(() => parseConfig([...required, '--prediction-log', 'redis://redis:6379/zero'], {})).toThrow(
      'database "zero" is not a number',
    );
  });
});

describe('parseDuration', () => {
  test.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['2h', 7_200_000],
    ['1h30m', 5_400_000],
    ['1.5s', 1500],
  ])('%s is %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));

  test.each(['', '5', 'm5', '5 m', '-1s', '1d'])('%j is refused with the field name', (text) => {
    expect(() => parseDuration(text, 'strategy.minStageDuration')).toThrow(
      `strategy.minStageDuration: "${text}" is not a duration`,
    );
  });
});

describe('every flag reaches the config', () => {
  test('duration and numeric flags are read from the command line', () => {
    const config = parseConfig(
      [
        ...required,
        '--batch-delay',
        '3ms',
        '--cache-ttl',
        '5s',
        '--feedback-ttl',
        '2m',
        '--poll-interval',
        '250ms',
        '--drain-timeout',
        '9s',
        '--max-queue',
        '7',
        '--intra-op-threads',
        '2',
        '--version',
        'v2',
        '--admin-token',
        't',
        '--max-feedback-value',
        '1e6',
      ],
      {},
    );
    expect(config).toMatchObject({
      batchDelayMs: 3,
      cacheTtlMs: 5000,
      feedbackTtlMs: 120_000,
      pollIntervalMs: 250,
      drainTimeoutMs: 9000,
      maxQueue: 7,
      intraOpThreads: 2,
      version: 'v2',
      adminToken: 't',
      maxFeedbackValue: 1e6,
    });
  });
});
