import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Command } from 'commander';
import { computeEpsilon, noiseForEpsilon } from '../privacy/rdp.js';
import { registerPrivacyCommand } from './privacy-command.js';

class Exit extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
  }
}

/** Runs `concord <args>` in-process; captures stdout/stderr and the exit code fail() asks for. */
async function concord(...args: string[]): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  const program = new Command('concord').exitOverride();
  let stdout = '';
  let stderr = '';
  program.configureOutput({ writeOut: (s) => (stdout += s), writeErr: (s) => (stderr += s) });
  registerPrivacyCommand(program);
  for (const sub of program.commands) {
    sub.exitOverride().configureOutput({ writeOut: (s) => (stdout += s), writeErr: (s) => (stderr += s) });
    for (const leaf of sub.commands) leaf.exitOverride().configureOutput({ writeOut: (s) => (stdout += s), writeErr: (s) => (stderr += s) });
  }
  const write = { out: process.stdout.write, err: process.stderr.write, exit: process.exit };
  process.stdout.write = ((s: string) => ((stdout += s), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => ((stderr += s), true)) as typeof process.stderr.write;
  process.exit = ((code?: number) => {
    throw new Exit(code ?? 0);
  }) as typeof process.exit;
  try {
    await program.parseAsync(args, { from: 'user' });
    return { stdout, stderr, exitCode: 0 };
  } catch (error) {
    if (error instanceof Exit) return { stdout, stderr, exitCode: error.exitCode };
    const e = error as { exitCode?: number; code?: string };
    if (typeof e.exitCode === 'number') return { stdout, stderr, exitCode: e.exitCode };
    throw error;
  } finally {
    process.stdout.write = write.out;
    process.stderr.write = write.err;
    process.exit = write.exit;
  }
}

test('privacy epsilon --json: Opacus’s reference point q = 0.04, σ = 1.5, T = 2250, δ = 1e-5 → ε = 7.3291', async () => {
  const { stdout, exitCode } = await concord('privacy', 'epsilon', '--sampling-rate', '0.04', '--noise-multiplier', '1.5', '--steps', '2250', '--delta', '1e-5', '--json');
  assert.equal(exitCode, 0);
  const out = JSON.parse(stdout) as { epsilon: number; order: number };
  assert.deepEqual(Object.keys(out), ['epsilon', 'order']);
  assert.ok(Math.abs(out.epsilon - 7.32911117143) < 1e-8, `ε = ${out.epsilon}`);
  assert.equal(out.order, 3.9);
  assert.deepEqual(out, computeEpsilon({ samplingRate: 0.04, noiseMultiplier: 1.5, steps: 2250, delta: 1e-5 }));
});

test('privacy epsilon without --json prints a sentence with ε and the order', async () => {
  const { stdout, exitCode } = await concord('privacy', 'epsilon', '--sampling-rate', '0.01', '--noise-multiplier', '1', '--steps', '100', '--delta', '1e-5');
  assert.equal(exitCode, 0);
  const { epsilon, order } = computeEpsilon({ samplingRate: 0.01, noiseMultiplier: 1, steps: 100, delta: 1e-5 });
  assert.ok(stdout.startsWith(`ε = ${epsilon} at δ = 0.00001 (Rényi order α = ${order}) after 100 steps`), stdout);
});

test('privacy noise --json: the noise multiplier noiseForEpsilon finds, and it meets the target', async () => {
  const args = { samplingRate: 0.04, steps: 2250, delta: 1e-5, epsilon: 7.3291 };
  const { stdout, exitCode } = await concord('privacy', 'noise', '--sampling-rate', '0.04', '--steps', '2250', '--delta', '1e-5', '--epsilon', '7.3291', '--json');
  assert.equal(exitCode, 0);
  const out = JSON.parse(stdout) as { noiseMultiplier: number };
  assert.deepEqual(out, { noiseMultiplier: noiseForEpsilon(args) });
  // Opacus's point read backwards: σ ≈ 1.5, and never below what ε = 7.3291 needs.
  assert.ok(Math.abs(out.noiseMultiplier - 1.5) < 1.5e-4, `σ = ${out.noiseMultiplier}`);
  assert.ok(computeEpsilon({ ...args, noiseMultiplier: out.noiseMultiplier }).epsilon <= 7.3291);
});

test('invalid input goes through fail() naming the flag: JSON error with --json, exit 65 (EX_DATAERR)', async () => {
  const bad = await concord('privacy', 'epsilon', '--sampling-rate', '1.5', '--noise-multiplier', '1', '--steps', '10', '--delta', '1e-5', '--json');
  assert.equal(bad.exitCode, 65);
  const { error } = JSON.parse(bad.stdout) as { error: { code: string; message: string; details: { field: string } } };
  assert.equal(error.code, 'CONCORD_ERR_INVALID_ARGUMENT');
  assert.equal(error.details.field, '--sampling-rate');
  assert.match(error.message, /^--sampling-rate is 1.5; expected a number in \[0, 1\]/);

  const cases: [string[], string][] = [
    [['epsilon', '--sampling-rate', 'abc', '--noise-multiplier', '1', '--steps', '10', '--delta', '1e-5'], '--sampling-rate'],
    [['epsilon', '--sampling-rate', '0.1', '--noise-multiplier', '-1', '--steps', '10', '--delta', '1e-5'], '--noise-multiplier'],
    [['epsilon', '--sampling-rate', '0.1', '--noise-multiplier', '1', '--steps', '2.5', '--delta', '1e-5'], '--steps'],
    [['epsilon', '--sampling-rate', '0.1', '--noise-multiplier', '1', '--steps', '10'], '--delta'],
    [['noise', '--sampling-rate', '0.1', '--steps', '10', '--delta', '1e-5', '--epsilon', '0'], '--epsilon'],
    [['noise', '--sampling-rate', '0.1', '--steps', '0', '--delta', '1e-5', '--epsilon', '1'], '--steps'],
    [['noise', '--steps', '10', '--delta', '1e-5', '--epsilon', '1'], '--sampling-rate'],
  ];
  for (const [args, field] of cases) {
    const run = await concord('privacy', ...args, '--json');
    assert.equal(run.exitCode, 65, args.join(' '));
    assert.equal((JSON.parse(run.stdout) as { error: { details: { field: string } } }).error.details.field, field, args.join(' '));
  }

  const human = await concord('privacy', 'noise', '--sampling-rate', '0.1', '--steps', '10', '--delta', '2', '--epsilon', '1');
  assert.equal(human.exitCode, 65);
  assert.equal(human.stdout, '');
  assert.match(human.stderr, /^concord: --delta is 2; expected a number in \(0, 1\) \[--delta\] \(CONCORD_ERR_INVALID_ARGUMENT\)\n$/);
});

test('every privacy command has --help', async () => {
  for (const args of [['privacy', '--help'], ['privacy', 'epsilon', '--help'], ['privacy', 'noise', '--help']]) {
    const { stdout, exitCode } = await concord(...args);
    assert.equal(exitCode, 0);
    assert.match(stdout, /^Usage: concord privacy/);
  }
  assert.match((await concord('privacy', 'epsilon', '--help')).stdout, /--noise-multiplier <z>/);
  assert.match((await concord('privacy', 'noise', '--help')).stdout, /--epsilon <ε>/);
});
