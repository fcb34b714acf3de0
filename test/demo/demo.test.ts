// The three demo scenarios end to end, as a user runs them (`weir demo
// --scenario X --json`): real predictors, gateway, Prometheus, Alertmanager,
// load generator and controller.
import { describe, expect, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../../controller/src/local/predictor-process.js';

async function demo(scenario: string): Promise<Record<string, any>> {
  const { stdout } = await promisify(execFile)(process.execPath, [path.join(packageRoot(), 'bin', 'weir.js'), 'demo', '--scenario', scenario, '--json'], { timeout: 330_000 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!);
}

describe('weir demo', () => {
  test('good: v2 is promoted after weights 10, 25, 50, 100 with no failed request', async () => {
    const r = await demo('good');
    expect(r).toMatchObject({ scenario: 'good', phase: 'Promoted', weightsApplied: [10, 25, 50, 100], failedRequests: 0, rollbackReason: null });
    expect(r.durationSeconds).toBeLessThan(300);
    const [v1, v2] = r.table;
    expect(v2.accuracy).toBeGreaterThan(v1.accuracy);
    // Alertmanager's API: the approval alert resolved once the demo approved; the promotion was announced.
    const names = r.alertsActive.map((a: { alertname: string }) => a.alertname);
    expect(names).toContain('WeirCanaryPromoted');
    expect(names).not.toContain('WeirRolloutAwaitingApproval');
  }, 330_000);

  test('bad-accuracy: v3 is rolled back with a reason, final weight 0, no failed request', async () => {
    const r = await demo('bad-accuracy');
    expect(r).toMatchObject({ scenario: 'bad-accuracy', phase: 'RolledBack', failedRequests: 0 });
    expect(r.weightsApplied.at(-1)).toBe(0);
    expect(r.rollbackReason).toMatch(/rolled back: .+/);
    expect(r.durationSeconds).toBeLessThan(300);
    // The rollback reached the real Alertmanager as a critical alert, still active.
    expect(r.alertsActive).toContainEqual({ alertname: 'WeirCanaryRolledBack', severity: 'critical', state: 'active' });
  }, 330_000);

  test('slow: v4 is rolled back with a reason, final weight 0, no failed request', async () => {
    const r = await demo('slow');
    expect(r).toMatchObject({ scenario: 'slow', phase: 'RolledBack', failedRequests: 0 });
    expect(r.weightsApplied.at(-1)).toBe(0);
    expect(r.rollbackReason).toMatch(/latency/);
  }, 330_000);
});
