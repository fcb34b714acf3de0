// `weir generate crd|dashboards|alerts`: writes the files weir derives from its
// own sources (the CRD from the ModelRollout schema, the Grafana dashboards
// from observability/dashboards.ts, the PrometheusRule from alerts/). Tests
// check that the committed files equal what this writes.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../../../shared/errors.js';
import { packageRoot } from '../../../shared/paths.js';
import { modelRolloutCrdYaml } from '../api/crd.js';
import { DASHBOARDS } from '../observability/dashboards.js';
import { prometheusRuleYaml } from '../observability/prometheus-rule.js';

/** Where `weir generate crd` writes, relative to the package root. */
export const CRD_PATH = path.join('manifests', 'crds', 'modelrollouts.weir.dev.yaml');
export const PROMETHEUS_RULE_PATH = path.join('manifests', 'monitoring', 'prometheusrule.yaml');

const GENERATORS: Record<string, { what: string; files(): Promise<[string, string][]> }> = {
  crd: { what: 'the ModelRollout CRD, from api/schema.ts', files: async () => [[CRD_PATH, modelRolloutCrdYaml()]] },
  dashboards: {
    what: 'the Grafana dashboards, from observability/dashboards.ts',
    files: async () =>
      Object.entries(DASHBOARDS).map(([file, build]) => [
        path.join('dashboards', file),
        `${JSON.stringify(build(), null, 2)}\n`,
      ]),
  },
  alerts: {
    what: 'the PrometheusRule, from alerts/weir.rules.yml',
    files: async () => [[PROMETHEUS_RULE_PATH, await prometheusRuleYaml(path.join(packageRoot(), 'alerts'))]],
  },
};

/** Adds `weir generate crd|dashboards|alerts`. */
export function registerGenerateCommand(program: Command): void {
  program
    .command('generate')
    .argument('<what>', `what to write: ${Object.keys(GENERATORS).join(', ')}`)
    .description('write the files weir derives from its sources, in this checkout')
    .addHelpText(
      'after',
      `\n${Object.entries(GENERATORS)
        .map(([name, g]) => `  ${name.padEnd(11)} ${g.what}`)
        .join('\n')}\n\nExample:\n  weir generate crd     # after changing controller/src/api/schema.ts`,
    )
    .action(async (what: string) => {
      if (!Object.hasOwn(GENERATORS, what)) {
        throw new UsageError(
          `generate: "${what}" is not something weir generates; expected ${Object.keys(GENERATORS).join(', ')}`,
        );
      }
      for (const [relative, text] of await GENERATORS[what]!.files()) {
        const file = path.join(packageRoot(), relative);
        await mkdir(path.dirname(file), { recursive: true });
        await writeFile(file, text);
        process.stderr.write(`wrote ${relative}\n`);
      }
    });
}
