// `make alerts`: writes manifests/monitoring/prometheusrule.yaml from alerts/.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { packageRoot } from '../local/predictor-process.js';
import { prometheusRuleYaml } from './prometheus-rule.js';

const out = path.join(packageRoot(), 'manifests', 'monitoring', 'prometheusrule.yaml');
await writeFile(out, await prometheusRuleYaml(path.join(packageRoot(), 'alerts')));
process.stdout.write(`wrote ${path.relative(packageRoot(), out)}\n`);
