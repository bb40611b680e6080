// What `concord` loads when it starts: the compiled JavaScript in dist/ (not the TypeScript
// sources), and for --help and the privacy accountant only command registration, none of
// TF.js, HiGHS, SQLite, Fastify, undici or the coordinator, node, demo and model code.
// Checked by recording every module the process loads (support/record-loads.mjs), never
// by timing; bench/cli-startup.ts measures the time.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CLI } from './support/processes.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const RECORDER = fileURLToPath(new URL('./support/record-loads.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'concord-start-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `concord <args>` and returns its exit code and every module it loaded. */
function loadsOf(args: string[]): { status: number | null; stdout: string; modules: string[] } {
  const record = join(dir, `${args.join('_').replace(/[^\w-]/g, '')}.txt`);
  // NODE_OPTIONS cleared: the child must not inherit a TypeScript loader from the test runner.
  const run = spawnSync(process.execPath, ['--import', RECORDER, CLI, ...args], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '', CONCORD_RECORD_LOADS: record } });
  const modules = readFileSync(record, 'utf8').split('\n').filter(Boolean).map((m) => (m.startsWith('file:') ? fileURLToPath(m) : m));
  return { status: run.status, stdout: run.stdout, modules };
}

const HEAVY_PACKAGES = /[\\/]node_modules[\\/](@tensorflow[\\/]tfjs[^\\/]*|highs|better-sqlite3|fastify|undici)[\\/]/;
const HEAVY_OURS = /[\\/]dist[\\/](model|storage|coordinator|node|demo)[\\/]/;
// The constants option definitions show as defaults, kept apart from the code that uses them.
const SMALL_OURS = ['coordinator/defaults.js', 'demo/options.js', 'demo/tasks.js', 'node/energy.js'].map((m) => join(ROOT, 'dist', m));

function assertLean(modules: string[], what: string): void {
  assert.ok(modules.length > 0, `${what}: nothing recorded`);
  const heavy = modules.filter((m) => HEAVY_PACKAGES.test(m) || (HEAVY_OURS.test(m) && !SMALL_OURS.includes(m)));
  assert.deepEqual(heavy, [], `${what} loaded what only actions need`);
}

test('bin/concord.mjs runs the compiled JavaScript in dist/, not the TypeScript sources', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: { concord: string } };
  assert.equal(join(ROOT, pkg.bin.concord), CLI);
  const { status, stdout, modules } = loadsOf(['--version']);
  assert.equal(status, 0);
  assert.equal(stdout.trim(), '0.1.0');
  assert.ok(modules.includes(join(ROOT, 'dist', 'cli', 'main.js')), 'dist/cli/main.js was loaded');
  assert.deepEqual(modules.filter((m) => m.endsWith('.ts') || /[\\/]node_modules[\\/]tsx[\\/]/.test(m)), [], 'no TypeScript and no tsx');
});

test('dist/ holds every module of src/ and none of its tests', () => {
  const sources = readdirSync(join(ROOT, 'src'), { recursive: true }).map(String).filter((f) => f.endsWith('.ts'));
  const testOnly = (f: string) => /\.test\.ts$|-conformance\.ts$|\.fixture\.ts$|(^|[\\/])conformance[\\/]/.test(f);
  const missing = sources.filter((f) => !testOnly(f) && !existsSync(join(ROOT, 'dist', f.replace(/\.ts$/, '.js'))));
  assert.deepEqual(missing, [], 'compiled by scripts/build.mjs');
  const shipped = sources.filter((f) => testOnly(f) && existsSync(join(ROOT, 'dist', f.replace(/\.ts$/, '.js'))));
  assert.deepEqual(shipped, [], 'left out by tsconfig.build.json');
});

test('--help loads command registration only', () => {
  for (const args of [['--help'], ['status', '--help'], ['coordinator', '--help'], ['demo', '--help']]) {
    const { status, stdout, modules } = loadsOf(args);
    assert.equal(status, 0, args.join(' '));
    assert.match(stdout, /Usage: concord/);
    assertLean(modules, `concord ${args.join(' ')}`);
  }
});

test('privacy epsilon loads the accountant, not the training stack', () => {
  const { status, stdout, modules } = loadsOf(['privacy', 'epsilon', '--sampling-rate', '0.01', '--noise-multiplier', '1.1', '--steps', '1000', '--delta', '1e-5', '--json']);
  assert.equal(status, 0);
  assert.ok((JSON.parse(stdout) as { epsilon: number }).epsilon > 0);
  assertLean(modules, 'concord privacy epsilon');
});

test('an action loads what it needs when it runs: plan brings HiGHS', () => {
  const { status, modules } = loadsOf(['plan', '--resources', join(ROOT, 'examples', 'resources.json'), '--json']);
  assert.equal(status, 0);
  assert.ok(modules.some((m) => /[\\/]node_modules[\\/]highs[\\/]/.test(m)), 'highs was loaded');
});
