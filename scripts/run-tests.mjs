// Runs every *.test.ts under src/ and test/ with Node's test runner (Node 20's --test
// does not expand globs). Extra arguments narrow the run to files whose path contains them.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const filters = process.argv.slice(2);
const files = ['src', 'test']
  .flatMap((dir) => readdirSync(dir, { recursive: true }).map((f) => join(dir, String(f))))
  .filter((f) => f.endsWith('.test.ts') && (filters.length === 0 || filters.some((x) => f.includes(x))))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}
// The tests import src/ through tsx, but those that spawn `concord` run bin/, i.e. dist/:
// compile it first when src/ changed (a no-op otherwise), so they never test stale code.
const build = spawnSync(process.execPath, [join('scripts', 'build.mjs')], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
// A file's own time limit (Node applies --test-timeout to each file's process as a whole): a
// file that hangs — once, one sat idle before its first test — fails after 20 minutes
// instead of holding the run until CI's limit; the longest file takes about 3.
const FILE_TIMEOUT_MS = 20 * 60_000;
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', `--test-timeout=${FILE_TIMEOUT_MS}`, ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
