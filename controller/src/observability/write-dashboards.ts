// `make dashboards`: writes dashboards/*.json from dashboards.ts.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { packageRoot } from '../local/predictor-process.js';
import { DASHBOARDS } from './dashboards.js';

for (const [file, build] of Object.entries(DASHBOARDS)) {
  const target = path.join(packageRoot(), 'dashboards', file);
  await writeFile(target, `${JSON.stringify(build(), null, 2)}\n`);
  process.stderr.write(`wrote ${path.relative(process.cwd(), target)}\n`);
}
