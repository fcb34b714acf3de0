// Starts a real Redis (Debian's redis-server) on a loopback port, with no
// persistence: the prediction log is a cache of the last --feedback-ttl.
// Readiness is a PING answered with PONG.
import net from 'node:net';
import { freePort } from './free-port.js';
import { startReadyProcess, type ReadyProcess } from './ready-process.js';

export interface RedisProcess extends ReadyProcess {
  port: number;
}

/** Whether a Redis at this port answers PING. */
export function redisAnswers(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
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
