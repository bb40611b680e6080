// The `concord` command line as a user runs it: help everywhere, the demo's summary line,
// model fusion on real files, and clear errors for bad arguments.

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { exportTfjsModel } from '../src/model/export.js';
import { initialParameters, parameterSpecs } from '../src/model/build.js';
import { makeParameters, totalSize } from '../src/protocol/tensors.js';
import { RunConfigSchema, type ModelSpec } from '../src/protocol/messages.js';
import { SqliteStorage } from '../src/storage/sqlite.js';
import { concordRun } from './support/processes.js';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'concord-cli-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('concord CLI', () => {
  it('has --help on every command', async () => {
    const commands = [[], ['demo'], ['coordinator'], ['node'], ['run'], ['run', 'start'], ['run', 'list'], ['run', 'show'], ['status'], ['export'], ['fuse'], ['privacy'], ['privacy', 'epsilon'], ['privacy', 'noise'], ['plan'], ['contributions'], ['report'], ['db'], ['db', 'migrate'], ['db', 'backup'], ['db', 'restore'], ['db', 'copy']];
    for (const c of commands) {
      const { code, stdout } = await concordRun([...c, '--help']);
      assert.equal(code, 0, `concord ${c.join(' ')} --help`);
      assert.match(stdout, /Usage: concord/);
      assert.match(stdout, /--help/);
    }
  });

  it('runs the demo consortium end to end and prints one JSON summary line', { timeout: 240_000 }, async () => {
    const { code, stdout, stderr } = await concordRun(['demo', '--members', '3', '--rounds', '2', '--epochs', '1', '--no-baseline', '--dir', join(dir, 'demo')], 240_000);
    assert.equal(code, 0, stderr);
    const lines = stdout.trim().split('\n');
    assert.equal(lines.length, 1, 'stdout holds only the summary line');
    const summary = JSON.parse(lines[0]!) as Record<string, number | null> & { contributions: Record<string, number> };
    assert.deepEqual(Object.keys(summary), ['task', 'rounds', 'members', 'accuracy', 'centralizedAccuracy', 'seconds', 'bytesPerMemberPerRound', 'contributions', 'co2Grams']);
    // Contributions of the three members add up to the accuracy the rounds added (efficiency), here most of it.
    assert.deepEqual(Object.keys(summary.contributions).sort(), ['member-a', 'member-b', 'member-c']);
    const gained = Object.values(summary.contributions).reduce((s, v) => s + v, 0);
    assert.ok(gained > 0.5 && gained < summary.accuracy!, `Σφ ${gained}`);
    assert.ok(summary.co2Grams! > 0, `co2Grams ${summary.co2Grams}`);
    assert.equal(summary.rounds, 2);
    assert.equal(summary.members, 3);
    assert.equal(summary.centralizedAccuracy, null);
    assert.ok(summary.accuracy! > 0.6 && summary.accuracy! <= 1, `accuracy ${summary.accuracy}`);
    // Train task + update + evaluate task each carry the 784-128-10 model once; headers are small.
    const modelBytes = (784 * 128 + 128 + 128 * 10 + 10) * 4;
    assert.ok(summary.bytesPerMemberPerRound! >= 3 * modelBytes && summary.bytesPerMemberPerRound! < 3 * modelBytes + 4096, `bytes ${summary.bytesPerMemberPerRound}`);
    // Progress went to stderr, one line per round, then the table and where the report and model are.
    assert.match(stderr, /round 1\/2 · 3 reported/);
    assert.match(stderr, /round 2\/2 · 3 reported/);
    assert.match(stderr, /accuracy, federated +0\.\d{4} \(best round 0\.\d{4}\)/);
    assert.match(stderr, /accuracy, centralised +not run \(--no-baseline\)/);
    for (const name of ['member-a', 'member-b', 'member-c']) assert.match(stderr, new RegExp(`^  ${name} +[+−]\\d+\\.\\d{2}`, 'm'));
    // Not a terminal: no progress bars' escape codes, and the demo exits instead of holding the coordinator up.
    assert.ok(!stderr.includes('\x1b['), 'no escape codes without a terminal');
    const report = await readFile(join(dir, 'demo', 'report.html'), 'utf8');
    assert.match(report, /<html/);
    const model = JSON.parse(await readFile(join(dir, 'demo', 'model', 'model.json'), 'utf8')) as { modelTopology: unknown; weightsManifest: unknown[] };
    assert.ok(model.modelTopology && model.weightsManifest.length > 0);
    // The commands it prints work as printed.
    const command = /npx concord (export --db \S+ --run \S+) --out model/.exec(stderr);
    assert.ok(command, stderr);
    const exported = await concordRun([...command[1]!.split(' '), '--out', join(dir, 'exported'), '--json']);
    assert.equal(exported.code, 0, exported.stderr);
  });

  it('demo with a mistyped task names the closest one, exits 65 and leaves the previous demo\'s folder alone', async () => {
    const kept = join(dir, 'demo-kept');
    await rm(kept, { recursive: true, force: true });
    await mkdir(kept, { recursive: true });
    await writeFile(join(kept, 'coordinator.sqlite'), 'the previous demo');
    const { code, stderr } = await concordRun(['demo', '--task', 'recsyss', '--dir', kept]);
    assert.equal(code, 65);
    assert.match(stderr, /unknown demo task "recsyss"; did you mean "recsys"\? tasks: mnist, cnn, text, transformer, recsys, analytics/);
    assert.equal(await readFile(join(kept, 'coordinator.sqlite'), 'utf8'), 'the previous demo');
  });

  it('demo --task recsys: federated matrix factorisation within 5 % of centralised RMSE, measured on the members\' holdouts', { timeout: 240_000 }, async () => {
    const { code, stdout, stderr } = await concordRun(['demo', '--task', 'recsys', '--members', '3', '--dir', join(dir, 'demo-recsys')], 240_000);
    assert.equal(code, 0, stderr);
    const summary = JSON.parse(stdout.trim()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(summary), ['task', 'rounds', 'members', 'rmse', 'centralizedRmse', 'seconds', 'bytesPerMemberPerRound', 'contributions', 'co2Grams']);
    const rmse = summary.rmse as number;
    const centralized = summary.centralizedRmse as number;
    // Ratings are 1–5 stars: guessing the middle is ~1.2 off; both models are far better.
    assert.ok(centralized > 0.4 && centralized < 0.8, `centralized ${centralized}`);
    assert.ok(rmse <= centralized * 1.05, `federated ${rmse} vs centralized ${centralized}`);
    // The coordinator cannot evaluate a recommender (users' factors stay on members), and says so.
    assert.equal(summary.contributions, null);
    assert.match(stderr, /contributions unavailable: the coordinator has no validation set/);
    assert.match(stderr, /round 30\/30 · 3 reported · loss [\d.]+ · holdout rmse 0\.\d+/);
    // Only item factors and biases travel (400 × 8 + 400 floats), never users' factors.
    assert.ok((summary.bytesPerMemberPerRound as number) < 3 * (400 * 9 * 4) + 4096, `bytes ${summary.bytesPerMemberPerRound}`);
  });

  it('fuses two models: θ = λθ_A + (1−λ)θ_B', async () => {
    const spec: ModelSpec = { family: 'mlp', inputShape: [4], hidden: [3], classes: 2, activation: 'relu' };
    const a = initialParameters(spec, 1);
    const b = initialParameters(spec, 2);
    await exportTfjsModel(spec, a, join(dir, 'a'));
    await exportTfjsModel(spec, b, join(dir, 'b'));
    const { code, stdout, stderr } = await concordRun(['fuse', '--model', join(dir, 'a'), '--model', join(dir, 'b'), '--lambda', '0.3', '--out', join(dir, 'fused'), '--json']);
    assert.equal(code, 0, stderr);
    assert.deepEqual(JSON.parse(stdout).lambdas, [0.3, 0.7]);
    const bytes = await readFile(join(dir, 'fused', 'weights.bin'));
    const fused = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    assert.equal(fused.length, totalSize(parameterSpecs(spec)));
    for (let i = 0; i < fused.length; i++) assert.ok(Math.abs(fused[i]! - (0.3 * a.data[i]! + 0.7 * b.data[i]!)) < 1e-6);
    const modelJson = JSON.parse(await readFile(join(dir, 'fused', 'model.json'), 'utf8')) as { modelTopology: unknown };
    assert.ok(modelJson.modelTopology, 'the fused model keeps its topology');
  });

  it('refuses to fuse models of different architectures, naming the tensor', async () => {
    const other: ModelSpec = { family: 'mlp', inputShape: [4], hidden: [5], classes: 2, activation: 'relu' };
    await exportTfjsModel(other, makeParameters(parameterSpecs(other)), join(dir, 'other'));
    const { code, stderr } = await concordRun(['fuse', '--model', join(dir, 'a'), '--model', join(dir, 'other'), '--out', join(dir, 'x')]);
    assert.equal(code, 65);
    assert.match(stderr, /CONCORD_ERR_SHAPE_MISMATCH/);
    assert.match(stderr, /dense_1\/kernel/);
  });

  it('plans resources with HiGHS: the seed example R_A = 100, R_B = 200, C = 200', async () => {
    const { code, stdout, stderr } = await concordRun(['plan', '--resources', 'examples/resources.json', '--objective', 'max-compute', '--json']);
    assert.equal(code, 0, stderr);
    const plan = JSON.parse(stdout) as { status: string; objective: number; allocation: { name: string; units: number }[]; binding: string[] };
    assert.equal(plan.status, 'optimal');
    assert.equal(plan.objective, 200);
    assert.deepEqual(plan.allocation.map((a) => [a.name, a.units]), [['A', 100], ['B', 200]]);
    assert.deepEqual(plan.binding, ['capacity of A', 'capacity of B']);
    const infeasible = await concordRun(['plan', '--resources', 'examples/resources.json', '--objective', 'min-cost', '--demand', '500']);
    assert.equal(infeasible.code, 2);
    assert.match(infeasible.stdout, /demand 500 exceeds the total effective capacity 200 of all members/);
  });

  it('explains bad arguments', async () => {
    let r = await concordRun(['fuse', '--model', join(dir, 'a'), '--model', join(dir, 'b'), '--lambda', 'abc', '--out', join(dir, 'y')]);
    assert.equal(r.code, 64);
    assert.match(r.stderr, /--lambda must be a number, got "abc"/);
    r = await concordRun(['export', '--run', 'run_missing', '--out', join(dir, 'z'), '--db', join(dir, 'empty.sqlite'), '--json']);
    assert.equal(r.code, 66);
    assert.equal(JSON.parse(r.stdout).error.code, 'CONCORD_ERR_NOT_FOUND');
    assert.match(JSON.parse(r.stdout).error.message, /there is no coordinator database at .*empty\.sqlite; a command that reads one never creates it/);
    await assert.rejects(stat(join(dir, 'empty.sqlite')), 'the mistyped database was not created');
  });

  it('refuses to export the untrained model of a failed run, saying why', async () => {
    const db = join(dir, 'failed.sqlite');
    const storage = new SqliteStorage(db);
    await storage.migrate();
    const config = RunConfigSchema.parse({ model: { family: 'mlp', inputShape: [2], classes: 2 }, rounds: 3 });
    const run = await storage.createRun(config, initialParameters(config.model));
    await storage.setRunStatus(run.runId, 'failed', 'round 1 failed 5 times; last: only 1 of the minimum 2 members reported');
    await storage.close();
    const r = await concordRun(['export', '--run', run.runId, '--out', join(dir, 'failed-model'), '--db', db]);
    assert.equal(r.code, 65, r.stderr);
    assert.match(r.stderr, /run run_\S+ failed \(round 1 failed 5 times; last: only 1 of the minimum 2 members reported\), so it has no final model/);
    await assert.rejects(stat(join(dir, 'failed-model')), 'nothing was written');
    // Asked for explicitly, the initial model is exported.
    const explicit = await concordRun(['export', '--run', run.runId, '--round', '0', '--out', join(dir, 'failed-model'), '--db', db]);
    assert.equal(explicit.code, 0, explicit.stderr);
  });

  it('names the file, line and column of a broken run configuration, and every unknown key with the one meant', async () => {
    const broken = join(dir, 'broken.json');
    await writeFile(broken, '{\n  "model": {"family": "mlp", "inputShape": [2], "classes": 2},\n  "rounds": 2,\n}\n');
    let r = await concordRun(['run', 'start', '--config', broken, '--token', 'op_x', '--coordinator', 'http://127.0.0.1:1']);
    assert.equal(r.code, 65, r.stderr);
    assert.match(r.stderr, /broken\.json has 1 problem:\n {2}line 4, column 1: \(root\): JSON syntax: /);
    const typos = join(dir, 'typos.json');
    await writeFile(typos, JSON.stringify({ model: { family: 'mlp', inputShape: [2], classes: 2 }, rounds: 2, secureAggregaton: true, train: { epoch: 2 } }, null, 2));
    r = await concordRun(['run', 'start', '--config', typos, '--token', 'op_x', '--coordinator', 'http://127.0.0.1:1']);
    assert.equal(r.code, 65, r.stderr);
    assert.match(r.stderr, /line 12, column 5: train\.epoch: unknown field "epoch"; did you mean `train\.epochs`\?/);
    assert.match(r.stderr, /line 10, column 3: secureAggregaton: unknown field "secureAggregaton"; did you mean `secureAggregation`\?/);
    r = await concordRun(['run', 'start', '--config', join(dir, 'nowhere.json'), '--token', 'op_x', '--coordinator', 'http://127.0.0.1:1']);
    assert.equal(r.code, 66, r.stderr);
    assert.match(r.stderr, /cannot read --config .*nowhere\.json: there is no such file/);
  });

  it('exits with sysexits codes: 64 usage, 65 bad data, 66 missing input, 69 unreachable', async () => {
    const cases: [string[], number, RegExp][] = [
      [['plan', '--resources', 'examples/resources.json', '--integr'], 64, /unknown option '--integr'/],
      [['plan'], 64, /required option '--resources <file>' not specified/],
      [['run', 'show'], 64, /missing required argument 'runId'/],
      [['privacy', 'epsilon', '--steps'], 64, /option '--steps <T>' argument missing/],
      [['demo', '--rounds', 'many'], 64, /--rounds must be an integer, got "many"/],
      [['frobnicate'], 64, /unknown command 'frobnicate'/],
      [['data', 'images', '--data', 'mnist:member=0,members=x', '--out', join(dir, 'digits')], 65, /CONCORD_ERR_INVALID_ARGUMENT/],
      [['plan', '--resources', 'examples/resources.json', '--objective', 'max-fun'], 65, /--objective must be one of/],
      [['plan', '--resources', join(dir, 'missing.json')], 66, /cannot read --resources .*missing\.json.*CONCORD_ERR_NOT_FOUND/],
      [['fuse', '--model', join(dir, 'nothing-here'), '--model', join(dir, 'b'), '--out', join(dir, 'w')], 66, /not a TensorFlow.js model directory/],
      // Node's own file errors are the person's, not bugs: an --out below a regular file.
      [['agreement', 'propose', 'docs/agreement.example.yaml', '--out', join('README.md', 'proposal.json')], 66, /ENOTDIR.*CONCORD_ERR_NOT_FOUND/],
      [['status', '--coordinator', 'http://127.0.0.1:1', '--token', 'op_x'], 69, /CONCORD_ERR_UNAVAILABLE/],
    ];
    for (const [args, expected, message] of cases) {
      const { code, stderr } = await concordRun(args);
      assert.equal(code, expected, `concord ${args.join(' ')}: ${stderr}`);
      assert.match(stderr, message, `concord ${args.join(' ')}`);
    }
  });
});
