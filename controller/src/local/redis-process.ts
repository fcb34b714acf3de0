// Starts a real Redis (Debian's redis-server) on a loopback port, with no
// persistence: the prediction log is a cache of the last --feedback-ttl.
// Readiness is a PING answered with PONG.
import net from 'node:net';
import { freePort } from './free-port.js';
import { startReadyProcess, type ReadyProcess } from './ready-process.js';

export interface RedisProcess extends ReadyProcess {
  port: number;
}

/** Sends one inline command to the Redis at this port and resolves with its first reply chunk (undefined: no answer in time). */
export function redisCommand(port: number, command: string, timeoutMs = 500): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (reply: string | undefined) => {
      socket.destroy();
      resolve(reply);
    };
    socket.setTimeout(timeoutMs, () => done(undefined));
    socket.once('error', () => done(undefined));
    socket.once('connect', () => socket.write(`${command}\r\n`));
    socket.once('data', (data) => done(data.toString()));
  });
}

/** Whether a Redis at this port answers PING. */
async function redisAnswers(port: number, timeoutMs = 500): Promise<boolean> {
  return (await redisCommand(port, 'PING', timeoutMs))?.startsWith('+PONG') ?? false;
}

/** Starts redis-server on a free (or the given) loopback port and waits until it answers PING. Without `dir` nothing is kept on disk. */
export async function startRedis(
  options: {
    binary?: string;
    port?: number;
    /** Keep data across restarts in this folder (append-only file). */ dir?: string;
  } = {},
): Promise<RedisProcess> {
  const binary = options.binary ?? process.env.WEIR_REDIS_SERVER ?? 'redis-server';
  const port = options.port ?? (await freePort());
  const persistence = options.dir
    ? ['--dir', options.dir, '--appendonly', 'yes', '--appendfsync', 'always']
    : ['--appendonly', 'no'];
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence];
  const url = `redis://127.0.0.1:${port}`;
  const started = await startReadyProcess(
    'redis-server',
    binary,
    args,
    url,
    undefined,
    "install Redis (make installs Debian's redis-server)",
    () => redisAnswers(port),
  );
  return { ...started, port };
}
