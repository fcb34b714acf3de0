// Runs a weir entry point on Node >= 22. When the Node that started us is
// older (Debian bookworm ships 20), re-run the same command with the Node 24
// that `make` installs into .tools/, so `npx --no-install weir` works anywhere.
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const { spawnSync } = require('node:child_process');
const { pathToFileURL } = require('node:url');

module.exports = function launch(entry) {
  const root = path.resolve(__dirname, '..');
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 22) {
    const tool = path.join(root, '.tools', 'node_modules', 'node', 'bin', 'node');
    if (!fs.existsSync(tool)) {
      process.stderr.write(
        `weir needs Node >= 22 (this is ${process.version}); run 'make build' to install Node 24 into .tools/\n`,
      );
      process.exit(1);
    }
    const run = spawnSync(tool, [process.argv[1], ...process.argv.slice(2)], { stdio: 'inherit' });
    if (run.signal) process.kill(process.pid, run.signal);
    process.exit(run.status ?? 1);
  }
  const file = path.join(root, 'dist', entry);
  if (!fs.existsSync(file)) {
    process.stderr.write(`weir is not built: ${path.relative(process.cwd(), file)} is missing; run 'make build'\n`);
    process.exit(1);
  }
  import(pathToFileURL(file).href).catch((err) => {
    process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
    process.exit(1);
  });
};
