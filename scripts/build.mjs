// Compiles src/ into dist/ (tsc -p tsconfig.build.json) unless dist/ is newer than every
// source file and tsconfig. The `concord` bin runs dist/, so npm ci (prepare), npm start
// (prestart) and the tests (run-tests.mjs: tests spawn the CLI) build it first; checking
// mtimes costs milliseconds where even an incremental tsc takes seconds. `--force` always builds.
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { filesUnder, mtime, newest } from './mtime.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// Written only after tsc succeeds: a failed build is never taken for a fresh one.
const stamp = join(root, 'dist', '.built');

const sources = [join(root, 'tsconfig.json'), join(root, 'tsconfig.build.json'), ...filesUnder(join(root, 'src')).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))];

if (process.argv.includes('--force') || mtime(stamp) < newest(sources)) {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  if (mtime(tsc) < 0) {
    // An install without devDependencies: bin/concord.mjs then says what is missing.
    console.warn('typescript is not installed (npm ci --omit=dev?): the CLI in src/ is not compiled to dist/');
    process.exit(0);
  }
  rmSync(stamp, { force: true });
  const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });
  if (result.status !== 0) {
    console.error('compiling src/ into dist/ failed');
    process.exit(result.status ?? 1);
  }
  writeFileSync(stamp, `${new Date().toISOString()}\n`);
}
