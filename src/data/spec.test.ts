import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { type Dataset, featureSize, labelCounts } from './dataset.js';
import { planSplits, pooledTrainIndices } from './plan.js';
import { centralizedTrainingData, loadDataset, loadMemberData, parseDataSpec } from './spec.js';

const concordError =
  (details: Record<string, unknown>, code: string = ErrorCode.INVALID_ARGUMENT) =>
  (e: unknown): boolean => {
    assert.ok(e instanceof ConcordError, `expected a ConcordError, got ${String(e)}`);
    assert.equal(e.code, code);
    for (const [key, value] of Object.entries(details)) assert.deepEqual(e.details[key], value, `details.${key}`);
    return true;
  };

/** One key per example (label and a position-weighted checksum of its features), to compare datasets as multisets of rows. */
function rows(d: Dataset): string[] {
  const f = featureSize(d);
  return Array.from({ length: d.y.length }, (_, i) => {
    let h = 0;
    for (let j = 0; j < f; j++) h += d.x[i * f + j]! * (j + 1) * (1 + (j % 7));
    return `${d.y[i]}:${h}`;
  }).sort();
}

test('parseDataSpec: a member spec with every key', () => {
  assert.deepEqual(parseDataSpec('mnist:member=2,members=5,partition=dirichlet,alpha=0.5,seed=42,holdout=0.25,test=500,min=3'), {
    source: 'mnist',
    select: 'member',
    member: 2,
    split: { members: 5, partition: 'dirichlet', alpha: 0.5, shardsPerMember: 2, minSize: 3, seed: 42, holdout: 0.25, test: 500 },
  });
});

test('parseDataSpec: defaults, test, pool and csv forms', () => {
  assert.deepEqual(parseDataSpec('mnist:test'), {
    source: 'mnist',
    select: 'test',
    split: { members: 1, partition: 'iid', alpha: 0.5, shardsPerMember: 2, minSize: 10, seed: 0, holdout: 0.2, test: 1000 },
  });
  assert.equal(parseDataSpec('mnist').select, 'all');
  assert.equal(parseDataSpec('mnist:pool,members=5,partition=shards,shards=3').split.shardsPerMember, 3);
  assert.equal(parseDataSpec('mnist:pool,members=5').select, 'pool');
  assert.deepEqual(parseDataSpec('csv:data/records.csv,label=diagnosis,holdout=0.2,seed=1,classes=benign|malignant'), {
    source: 'csv',
    path: 'data/records.csv',
    label: 'diagnosis',
    classes: ['benign', 'malignant'],
    select: 'all',
    split: { members: 1, partition: 'iid', alpha: 0.5, shardsPerMember: 2, minSize: 10, seed: 1, holdout: 0.2, test: 0 },
  });
  assert.equal(parseDataSpec('csv:x.csv').label, 'label');
});

test('parseDataSpec: errors name the key and what was expected', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['imagenet:member=1', { field: 'source', expected: 'mnist or csv or spam or ratings or parquet or arrow', received: 'imagenet' }],
    ['mnist:member=1,members=5,colour=red', { field: 'colour' }],
    ['mnist:member=1,members=5,alpha=zero', { field: 'alpha', expected: 'a finite number > 0', received: 'zero' }],
    ['mnist:member=1,members=5,alpha=-1', { field: 'alpha', received: '-1' }],
    ['mnist:member=1,members=5,alpha=', { field: 'alpha', received: '' }],
    ['mnist:member=1', { field: 'members' }],
    ['mnist:member=5,members=5', { field: 'member', received: '5' }],
    ['mnist:member=1.5,members=5', { field: 'member' }],
    ['mnist:member=1,members=0', { field: 'members', expected: 'an integer >= 1' }],
    ['mnist:member=1,members=5,members=6', { field: 'members' }],
    ['mnist:member=1,members=5,partition=random', { field: 'partition', expected: 'iid | dirichlet | shards | source', received: 'random' }],
    ['mnist:member=1,members=5,holdout=1', { field: 'holdout', expected: 'a fraction in [0, 1)' }],
    ['mnist:member=1,members=5,shards=0', { field: 'shards' }],
    ['mnist:member=1,members=5,seed=1.5', { field: 'seed', expected: 'an integer' }],
    ['mnist:test,test=-1', { field: 'test' }],
    ['mnist:test,pool', { field: 'test' }],
    ['mnist:test,member=1,members=2', { field: 'member' }],
    ['mnist:everything', { field: 'everything' }],
    ['mnist:label=y', { field: 'label' }],
    ['csv:', { field: 'path' }],
    ['csv:x.csv,test', { field: 'test', expected: 'test=N with N >= 1' }],
    ['csv:x.csv,classes=a', { field: 'classes' }],
    ['csv:x.csv,classes=a|a', { field: 'classes' }],
  ];
  for (const [spec, details] of cases) assert.throws(() => parseDataSpec(spec), concordError(details), spec);
  assert.throws(() => parseDataSpec('mnist:member=1,members=5,alpha=zero'), /alpha must be a finite number > 0, received "zero"/);
  // A misspelled key or source says what was probably meant.
  assert.throws(() => parseDataSpec('mnist:member=1,members=5,partiton=iid'), /unknown key "partiton"; did you mean "partition"\?/);
  assert.throws(() => parseDataSpec('mnsit:member=1,members=5'), /unknown data source "mnsit"; did you mean "mnist:…"\?/);
});

test('planSplits: test set apart from members, shares disjoint and covering, pool = union of train splits', () => {
  const labels = Array.from({ length: 300 }, (_, i) => (i * 7) % 3);
  const plan = planSplits(labels, { test: 30, members: 4, partition: 'dirichlet', alpha: 1, seed: 5, holdout: 0.25 });
  assert.equal(plan.test.length, 30);
  assert.deepEqual([0, 1, 2].map((c) => plan.test.filter((i) => labels[i] === c).length), [10, 10, 10]);
  const all = [...plan.test, ...plan.members.flatMap((m) => [...m.train, ...m.holdout])].sort((a, b) => a - b);
  assert.deepEqual(all, labels.map((_, i) => i));
  for (const m of plan.members) assert.equal(m.holdout.length, Math.round(0.25 * (m.train.length + m.holdout.length)));
  assert.deepEqual(pooledTrainIndices(plan), plan.members.flatMap((m) => m.train).sort((a, b) => a - b));
  // The test set must not depend on anything a member might be started with differently.
  assert.deepEqual(planSplits(labels, { test: 30, members: 2, partition: 'shards', seed: 99 }).test, plan.test);
  assert.deepEqual(planSplits(labels, { test: 30, members: 4, partition: 'dirichlet', alpha: 1, seed: 5, holdout: 0.25 }), plan);
});

test('mnist: members, test set and pool are consistent and disjoint', async () => {
  // 20 shards of 450 digits, fewer than any class has, so a shard spans at most two labels.
  const base = 'members=10,partition=shards,seed=7,test=1000';
  const members = await Promise.all(Array.from({ length: 10 }, (_, m) => loadMemberData(`mnist:member=${m},${base}`)));
  const test = await loadDataset(`mnist:test,${base}`);
  const pool = await loadDataset(`mnist:pool,${base}`);
  assert.equal(test.y.length, 1000);
  assert.deepEqual(labelCounts(test), [100, 113, 99, 103, 98, 86, 102, 107, 94, 98]);
  assert.deepEqual(test.inputShape, [784]);
  assert.equal(members.reduce((s, m) => s + m.descriptor.numExamples + m.descriptor.numHoldout, 0), 9000);
  assert.deepEqual(members[1]!.descriptor, {
    name: 'mnist, member 1 of 10 (2 shards each, seed 7)',
    numExamples: members[1]!.train.y.length,
    numHoldout: members[1]!.holdout.y.length,
    inputShape: [784],
    classes: 10,
  });
  for (const m of members) assert.ok(labelCounts(m.train).filter((c) => c > 0).length <= 4);
  assert.deepEqual(rows(pool), rows({ ...pool, x: Float32Array.from(members.flatMap((m) => [...m.train.x])), y: Int32Array.from(members.flatMap((m) => [...m.train.y])) }));
  assert.deepEqual(rows(await centralizedTrainingData(`mnist:${base}`)), rows(pool));
  const testRows = new Set(rows(test));
  const overlap = members.flatMap((m) => [...rows(m.train), ...rows(m.holdout)]).filter((r) => testRows.has(r));
  // The package holds a handful of pixel-identical digits; compare against that baseline rather than zero.
  const everything = rows(await loadDataset('mnist:test=0'));
  const duplicatesInSource = everything.length - new Set(everything).size;
  assert.ok(overlap.length <= duplicatesInSource, `${overlap.length} test digits also appear in members' data`);
});

test('loadMemberData / loadDataset: selection errors', async () => {
  await assert.rejects(loadMemberData('mnist:test'), concordError({ field: 'test' }));
  await assert.rejects(loadMemberData('mnist:members=3'), concordError({ field: 'member' }));
  await assert.rejects(loadMemberData('mnist:member=0,members=9001'), concordError({ field: 'members' }));
});

test('csv spec: one member owns its file, split into train and holdout', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'concord-spec-'));
  try {
    const file = join(dir, 'clinic.csv');
    const lines = ['age,marker,diagnosis', ...Array.from({ length: 20 }, (_, i) => `${30 + i},${i % 3},${i % 2 ? 'malignant' : 'benign'}`)];
    await writeFile(file, lines.join('\n'));
    const data = await loadMemberData(`csv:${file},label=diagnosis,holdout=0.25,seed=1`);
    assert.deepEqual(data.descriptor, { name: 'csv clinic.csv', numExamples: 15, numHoldout: 5, inputShape: [2], classes: 2 });
    assert.deepEqual(rows(await loadDataset(`csv:${file},label=diagnosis`)).length, 20);
    assert.deepEqual([...rows(data.train), ...rows(data.holdout)].sort(), rows(await loadDataset(`csv:${file},label=diagnosis`)));
    await assert.rejects(loadMemberData(`csv:${file},label=outcome`), concordError({ field: 'label', received: 'outcome' }));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
