// The alert rules and the Alertmanager example, checked by the tools that will
// load them: promtool check rules, promtool test rules (a firing and a quiet
// case per alert) and amtool check-config; and the PrometheusRule in
// manifests/ is what `make alerts` makes from them.
import { describe, expect, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { packageRoot } from '../../shared/paths.js';
import { prometheusRuleYaml } from '../../controller/src/observability/prometheus-rule.js';

const run = promisify(execFile);
const root = packageRoot();
const ALERTS = [
  'ModelAccuracyDegraded',
  'PredictionLatencyHigh',
  'PredictorErrorRateHigh',
  'PredictorNotReady',
  'ModelLoadFailed',
  'PredictionLogFailing',
  'CanaryRolledBack',
  'RolloutStuck',
  'WeirSampleRatioMismatch',
  'RolloutAwaitingApproval',
  'RouteWriteFailing',
  'StatusWriteFailing',
  'RolloutInvalid',
  'WeirControllerDown',
  'PrometheusQueriesFailing',
];

interface Rule {
  alert: string;
  annotations: Record<string, string>;
  labels: Record<string, string>;
}

async function rules(): Promise<Rule[]> {
  const doc = parse(await readFile(path.join(root, 'alerts', 'weir.rules.yml'), 'utf8')) as {
    groups: { rules: Rule[] }[];
  };
  return doc.groups.flatMap((g) => g.rules);
}

describe('alerts/', () => {
  test('promtool check rules: every alert the design asks for, each with a summary, a runbook and a severity', async () => {
    const { stdout } = await run('promtool', ['check', 'rules', path.join(root, 'alerts', 'weir.rules.yml')]);
    expect(stdout).toContain(`SUCCESS: ${ALERTS.length} rules found`);
    const all = await rules();
    expect(all.map((r) => r.alert).sort()).toEqual([...ALERTS].sort());
    const runbook = await readFile(path.join(root, 'docs', 'operations.md'), 'utf8');
    for (const rule of all) {
      // The runbook link lands on a section of docs/operations.md.
      expect(runbook).toContain(`\n### ${rule.alert}\n`);
      expect(rule.annotations.summary).toBeTruthy();
      expect(rule.annotations.runbook_url).toMatch(new RegExp(`docs/operations\\.md#${rule.alert.toLowerCase()}$`));
      expect(['critical', 'warning', 'info']).toContain(rule.labels.severity);
    }
  });

  test('promtool test rules: each alert has a firing case and a quiet case, and they pass', async () => {
    const file = path.join(root, 'alerts', 'tests', 'weir.rules.test.yml');
    const { stdout } = await run('promtool', ['test', 'rules', file]);
    expect(stdout).toContain('SUCCESS');
    const doc = parse(await readFile(file, 'utf8')) as {
      tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
    };
    const cases = doc.tests.flatMap((t) => t.alert_rule_test);
    for (const alert of ALERTS) {
      const mine = cases.filter((c) => c.alertname === alert);
      expect({
        alert,
        firing: mine.some((c) => c.exp_alerts.length > 0),
        quiet: mine.some((c) => c.exp_alerts.length === 0),
      }).toEqual({ alert, firing: true, quiet: true });
    }
  });

  test('amtool check-config accepts the example Alertmanager configuration', async () => {
    const { stdout } = await run('amtool', ['check-config', path.join(root, 'alerts', 'alertmanager.yml')]);
    expect(stdout).toContain('SUCCESS');
    expect(stdout).toContain('3 inhibit rules');
  });

  test('manifests/monitoring/prometheusrule.yaml is current (make alerts)', async () => {
    expect(await readFile(path.join(root, 'manifests', 'monitoring', 'prometheusrule.yaml'), 'utf8')).toBe(
      await prometheusRuleYaml(path.join(root, 'alerts')),
    );
  });
});
