// weir-predictor's entry point: parse options, serve, drain on SIGTERM.
import { CommanderError } from 'commander';
import { parseConfig, redacted, type PredictorConfig } from './config.js';
import { UsageError } from '../../shared/errors.js';
import { createLogger } from '../../shared/log.js';
import { PredictorServer } from './server.js';

let config: PredictorConfig;
try {
  config = parseConfig(process.argv.slice(2));
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  if (!(err instanceof UsageError)) throw err;
  process.stderr.write(`weir-predictor: ${err.message}\nRun 'weir-predictor --help' for the options.\n`);
  process.exit(2);
}

const log = createLogger('predictor', config.logLevel);
log.info('starting', { config: redacted(config), node: process.version });
const server = new PredictorServer(config, log);

let stopping = false;
const stop = (signal: string) => {
  if (stopping) return;
  stopping = true;
  log.info('signal received', { signal });
  server.drain().then(
    () => process.exit(0),
    (err: unknown) => {
      log.error('drain failed', { err });
      process.exit(1);
    },
  );
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));

try {
  await server.start();
} catch (err) {
  log.error('failed to start', { err });
  process.exit(1);
}
