// A lock file per rollout, holding the owner's pid. It is created atomically
// with its content (a private temp file hard-linked into place), so a writer
// killed at any instant never leaves an empty lock. A lock whose owner is dead
// (a crashed writer) is broken; a live one is waited for.
import { randomUUID } from 'node:crypto';
import { link, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { sleep } from '../../../../shared/wait.js';

/** An unreadable or empty lock older than this is abandoned (only older versions could leave one). */
const EMPTY_LOCK_GRACE_MS = 5000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function tryAcquire(lockPath: string): Promise<boolean> {
  const temp = `${lockPath}.${process.pid}.${randomUUID()}`;
  await writeFile(temp, String(process.pid));
  try {
    await link(temp, lockPath); // atomic: fails with EEXIST, or creates a complete lock
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

/** Whether an existing lock belongs to nobody: its pid is dead, or it is empty and old. */
async function abandoned(lockPath: string): Promise<{ stale: boolean; owner: string }> {
  const text = (await readFile(lockPath, 'utf8').catch(() => '')).trim();
  const pid = Number(text);
  if (Number.isInteger(pid) && pid > 0) return { stale: !alive(pid), owner: String(pid) };
  const info = await stat(lockPath).catch(() => undefined);
  return { stale: info !== undefined && Date.now() - info.mtimeMs > EMPTY_LOCK_GRACE_MS, owner: 'unknown' };
}

/** Runs `work` holding the lock file; a dead owner's lock is broken, a live one waited for up to `timeoutMs`. */
export async function withLock<T>(lockPath: string, work: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (!(await tryAcquire(lockPath))) {
    const { stale, owner } = await abandoned(lockPath);
    // A lock that cannot be removed (not a file, a read-only folder) is waited out like a live one.
    if (
      stale &&
      (await unlink(lockPath).then(
        () => true,
        () => false,
      ))
    )
      continue;
    if (Date.now() > deadline) throw new Error(`${lockPath}: held by pid ${owner} for more than ${timeoutMs} ms`);
    await sleep(20);
  }
  try {
    return await work();
  } finally {
    await unlink(lockPath).catch(() => undefined);
  }
}
