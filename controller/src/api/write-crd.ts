// `make crd`: writes manifests/crds/modelrollouts.weir.dev.yaml from the schema.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { packageRoot } from '../local/predictor-process.js';
import { modelRolloutCrdYaml } from './crd.js';

export const CRD_PATH = path.join('manifests', 'crds', 'modelrollouts.weir.dev.yaml');

const file = path.join(packageRoot(), CRD_PATH);
await mkdir(path.dirname(file), { recursive: true });
await writeFile(file, modelRolloutCrdYaml());
process.stdout.write(`wrote ${CRD_PATH}\n`);
