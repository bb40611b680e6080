import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { loadDataset, loadMemberData, parseDataSpec } from '../spec.js';
import { SOURCE_NAMES, sourceModule, tabularSourceForFile } from './index.js';
import { temporaryDirs } from '../../core/temp-dirs.fixture.js';

const tempDir = temporaryDirs();

const rows = { a: [1.5, 2, 3.25, 4], b: [10, 20, 30, 40], label: ['no', 'yes', 'no', 'yes'] };

async function files(): Promise<{ csv: string; parquet: string; arrow: string }> {
  const dir = await tempDir('concord-sources-');
  const csv = join(dir, 'd.csv');
  await writeFile(csv, `a,b,label\n${rows.a.map((a, i) => `${a},${rows.b[i]},${rows.label[i]}`).join('\n')}\n`);
  const parquet = join(dir, 'd.parquet');
  await writeFile(parquet, new Uint8Array(parquetWriteBuffer({ columnData: [{ name: 'a', data: rows.a, type: 'DOUBLE' }, { name: 'b', data: rows.b, type: 'DOUBLE' }, { name: 'label', data: rows.label, type: 'STRING' }] })));
  const arrow = join(dir, 'd.arrow');
  await writeFile(arrow, tableToIPC(tableFromArrays({ a: Float64Array.from(rows.a), b: Float64Array.from(rows.b), label: rows.label }), 'file'));
  return { csv, parquet, arrow };
}

test('csv, parquet and arrow files of the same table give the same dataset through the registry', async () => {
  const f = await files();
  const sets = await Promise.all([`csv:${f.csv}`, `parquet:${f.parquet}`, `arrow:${f.arrow}`].map((s) => loadDataset(`${s},holdout=0`)));
  for (const d of sets) {
    assert.deepEqual([...d.x], [1.5, 10, 2, 20, 3.25, 30, 4, 40]);
    assert.deepEqual([...d.y], [0, 1, 0, 1]);
    assert.equal(d.classes, 2);
  }
  const member = await loadMemberData(`parquet:${f.parquet},holdout=0.25`);
  assert.match(member.descriptor.name, /^parquet d\.parquet$/);
  assert.equal(member.descriptor.numExamples + member.descriptor.numHoldout, 4);
  assert.equal(tabularSourceForFile(f.parquet).name, 'parquet');
  assert.equal(tabularSourceForFile(f.arrow).name, 'arrow');
  assert.equal(tabularSourceForFile(f.csv).name, 'csv');
});

test('every source is a registry module, and an unknown source lists them all', () => {
  for (const name of ['mnist', 'csv', 'spam', 'ratings', 'parquet', 'arrow']) assert.ok(SOURCE_NAMES.includes(name) && sourceModule(name)?.name === name);
  assert.throws(() => parseDataSpec('feather:x'), (e: Error) => /expected mnist:…, csv:FILE,…, spam:…, ratings:…, parquet:FILE,… or arrow:FILE,…/.test(e.message));
  assert.throws(() => parseDataSpec('parqet:x'), /did you mean "parquet:…"\?/);
  assert.throws(() => parseDataSpec('arrow:'), /arrow spec starts with the file path/);
  assert.throws(() => parseDataSpec('parquet:x.parquet,vocab=3'), /unknown key "vocab"/);
  assert.equal(parseDataSpec('arrow:x.arrow,schema=s.yaml').schema, 's.yaml');
});

test('a file that is not of its format is refused naming the file', async () => {
  const f = await files();
  await assert.rejects(loadDataset(`parquet:${f.csv}`), /is not a readable Parquet file/);
  await assert.rejects(loadDataset(`arrow:${f.csv}`), /is not a readable Arrow IPC file/);
  await assert.rejects(loadDataset('parquet:/nonexistent.parquet'), /cannot read Parquet file/);
});
