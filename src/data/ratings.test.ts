import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { temporaryDirs } from '../core/temp-dirs.fixture.js';
import { formatRatingsCsv, generateRatings, readRatingsCsv } from './ratings.js';
import { loadMemberData } from './spec.js';

const tempDir = temporaryDirs();

test('readRatingsCsv: ids and whole stars as they are, columns found by name, other columns ignored', () => {
  const file = readRatingsCsv('item,timestamp,user,rating\n3,1700000000,10,5\n0,1700000001,10,1\n7,1700000002,4,3\n', { file: 'r.csv' });
  assert.deepEqual([...file.x], [10, 3, 10, 0, 4, 7]);
  assert.deepEqual([...file.y], [5, 1, 3], 'stars are labels as they are, not renumbered classes');
  assert.deepEqual({ inputShape: file.inputShape, classes: file.classes, vocabulary: file.vocabulary, users: file.users, items: file.items }, { inputShape: [2], classes: 6, vocabulary: 8, users: 2, items: 3 });
  assert.equal(readRatingsCsv('user,item,rating\n1,2,3\n', { items: 400 }).vocabulary, 400);
});

test('readRatingsCsv: what is wrong, and where', () => {
  assert.throws(() => readRatingsCsv('user,item,stars\n1,2,3\n', { file: 'r.csv' }), /r\.csv has no column "rating": a ratings file has the columns user, item, rating \(one row per rating\); its columns are "user", "item", "stars"/);
  assert.throws(() => readRatingsCsv('', { file: 'r.csv' }), /r\.csv line 1: the file is empty; a ratings file starts with the header user,item,rating/);
  assert.throws(() => readRatingsCsv('user,item,rating\n', { file: 'r.csv' }), /the file has a header but no ratings/);
  assert.throws(() => readRatingsCsv('user,item,rating\n1,2,3\n1,2,3.5\n', { file: 'r.csv' }), /r\.csv line 3, column "rating": expected a rating in whole stars \(an integer >= 0\), found "3\.5"/);
  assert.throws(() => readRatingsCsv('user,item,rating\n-1,2,3\n', { file: 'r.csv' }), /line 2, column "user": expected a user id/);
  assert.throws(() => readRatingsCsv('user,item,rating\n1,400,3\n', { file: 'r.csv', items: 400 }), /line 2, column "item": expected an item id \(an integer in \[0, 400\)\), found "400"/);
  assert.throws(() => readRatingsCsv('user,item,rating\n1,2\n', { file: 'r.csv' }), /line 2: expected 3 fields as in the header, found 2/);
});

test('ratings:file= reads what formatRatingsCsv wrote of generated ratings, and enrolls with the item-id bound', async () => {
  const generated = generateRatings({ users: 40, items: 50, regions: 2, factors: 3, seed: 1 });
  const path = join(await tempDir('concord-ratings-'), 'mine.csv');
  await writeFile(path, formatRatingsCsv(generated));
  const read = readRatingsCsv(formatRatingsCsv(generated));
  assert.deepEqual([...read.x], [...generated.x]);
  assert.deepEqual([...read.y], [...generated.y]);

  const member = await loadMemberData(`ratings:file=${path},items=50`);
  assert.deepEqual(member.descriptor, { name: 'ratings mine.csv', numExamples: member.train.y.length, numHoldout: member.holdout.y.length, inputShape: [2], classes: 6, vocabulary: 50 });
  assert.equal(member.train.y.length + member.holdout.y.length, generated.y.length);
  assert.equal((await loadMemberData(`ratings:file=${path}`)).descriptor.vocabulary, Math.max(...generated.x.filter((_, i) => i % 2 === 1)) + 1, 'without items=, the largest item id + 1');
  // Generated ratings still declare their item count.
  assert.equal((await loadMemberData('ratings:member=0,members=2,partition=source,users=20,items=30')).descriptor.vocabulary, 30);

  await assert.rejects(loadMemberData(`ratings:file=${path},users=5`), /users= shapes generated ratings; ratings:file=… reads them from the file/);
  await assert.rejects(loadMemberData(`ratings:file=${path},member=0,members=2,partition=source`), /a ratings file has none: give each member its own file/);
  await assert.rejects(loadMemberData('ratings:file=/nonexistent/r.csv'), /cannot read ratings file \/nonexistent\/r\.csv/);
  await assert.rejects(loadMemberData(`ratings:file=${path},items=10`), /column "item": expected an item id \(an integer in \[0, 10\)\)/);
});
