// Where weir's own files are: the package root, found from wherever a module
// was loaded (dist/ when built, the sources under ts-jest).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The weir package's root folder (the one holding package.json). */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find the weir package root');
    dir = parent;
  }
  return dir;
}
