// Every child process local mode starts is registered here, so that however
// this process ends (even by an uncaught error or process.exit), none is left
// running: a synchronous exit hook kills whatever has not been stopped.
import type { ChildProcess } from 'node:child_process';

const live = new Set<ChildProcess>();
let hooked = false;

/** Registers a child process to be killed when this process exits, however it exits. */
export function trackChild(child: ChildProcess): ChildProcess {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!hooked) {
    hooked = true;
    process.once('exit', () => {
      for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    });
  }
  return child;
}
