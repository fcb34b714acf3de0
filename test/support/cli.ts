// `weir` as a person runs it: a process, its exit code and its output.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../../shared/paths.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The weir command's entry point. */
export const WEIR = path.join(packageRoot(), 'bin', 'weir.js');

/** Runs `weir ...args`; resolves with the exit code and output whatever the code is. */
export async function runWeir(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [WEIR, ...args], {
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/**
 * `weir demo --scenario S --json --report R ...extra` as a user runs it: the one
 * JSON line it prints at the end. Rejects when the demo fails or outlasts `timeoutMs`.
 */
export async function runDemoJson(
  scenario: string,
  report: string,
  extra: string[] = [],
  timeoutMs = 450_000,
): Promise<Record<string, any>> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [WEIR, 'demo', '--scenario', scenario, '--json', '--report', report, ...extra],
    { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, any>;
}
