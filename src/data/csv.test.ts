import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { csvSource, parseCsv, readCsvDataset } from './csv.js';

const concordError =
  (details: Record<string, unknown>, code: string = ErrorCode.INVALID_ARGUMENT) =>
  (e: unknown): boolean => {
    assert.ok(e instanceof ConcordError, `expected a ConcordError, got ${String(e)}`);
    assert.equal(e.code, code);
    for (const [key, value] of Object.entries(details)) assert.deepEqual(e.details[key], value, `details.${key}`);
    return true;
  };

test('parseCsv: quoted fields hold commas, doubled quotes and newlines; CRLF, BOM and blank lines', () => {
  const text = '\ufeffa,b,c\r\n1,"x, y","say ""hi"""\r\n\r\n2,"two\nlines",3\n';
  assert.deepEqual(parseCsv(text), [
    { fields: ['a', 'b', 'c'], line: 1 },
    { fields: ['1', 'x, y', 'say "hi"'], line: 2 },
    { fields: ['2', 'two\nlines', '3'], line: 4 },
  ]);
  assert.deepEqual(parseCsv('a,b\n1,'), [
    { fields: ['a', 'b'], line: 1 },
    { fields: ['1', ''], line: 2 },
  ]);
});

test('parseCsv: an unclosed quote is an error naming the line', () => {
  assert.throws(() => parseCsv('a,b\n1,"open\n2,3\n', 'f.csv'), concordError({ field: 'row', line: 2, expected: 'a closing quote' }));
});

test('readCsvDataset: numeric features in column order, string labels numbered in sorted order', () => {
  const { dataset, features, classNames } = readCsvDataset('age,diagnosis,size\n50,malignant,1.5\n30,benign,"2"\n41, benign ,-3e-1\n', { label: 'diagnosis' });
  assert.deepEqual(features, ['age', 'size']);
  assert.deepEqual(classNames, ['benign', 'malignant']);
  assert.deepEqual([...dataset.x], [50, 1.5, 30, 2, 41, Math.fround(-0.3)]);
  assert.deepEqual([...dataset.y], [1, 0, 0]);
  assert.deepEqual(dataset.inputShape, [2]);
  assert.equal(dataset.classes, 2);
});

test('readCsvDataset: numeric labels sort numerically; an agreed class list fixes the numbering', () => {
  const text = 'x,label\n1,10\n2,9\n3,2\n';
  assert.deepEqual(readCsvDataset(text).classNames, ['2', '9', '10']);
  assert.deepEqual([...readCsvDataset(text).dataset.y], [2, 1, 0]);
  const agreed = readCsvDataset(text, { classes: ['10', '9', '2', '7'] });
  assert.deepEqual([...agreed.dataset.y], [0, 1, 2]);
  assert.equal(agreed.dataset.classes, 4);
  assert.throws(() => readCsvDataset(text, { classes: ['9', '10'], file: 'f.csv' }), concordError({ field: 'label', line: 4, received: '2' }));
});

test('readCsvDataset: a non-numeric or empty feature names its line and column', () => {
  const bad = 'age,label\n50,a\nabc,b\n';
  assert.throws(() => readCsvDataset(bad, { file: 'f.csv' }), concordError({ field: 'age', line: 3, expected: 'a finite number', received: 'abc' }));
  assert.throws(() => readCsvDataset(bad, { file: 'f.csv' }), /f\.csv line 3, column "age"/);
  assert.throws(() => readCsvDataset('age,label\n,a\n'), concordError({ field: 'age', line: 2, received: '' }));
  assert.throws(() => readCsvDataset('age,label\nInfinity,a\n'), concordError({ field: 'age', line: 2 }));
});

test('readCsvDataset: missing label column, empty label, ragged rows, duplicate and absent headers', () => {
  assert.throws(() => readCsvDataset('a,b\n1,2\n', { label: 'diagnosis' }), concordError({ field: 'label', expected: 'one of a, b', received: 'diagnosis' }));
  assert.throws(() => readCsvDataset('a,b\n1,2\n', { label: 'diagnosis' }), /no label column "diagnosis"/);
  assert.throws(() => readCsvDataset('a,label\n1,\n'), concordError({ field: 'label', line: 2 }));
  assert.throws(() => readCsvDataset('a,label\n1,x\n2,y,3\n'), concordError({ field: 'row', line: 3, expected: '2 fields', received: 3 }));
  assert.throws(() => readCsvDataset('a,a,label\n1,2,x\n'), concordError({ field: 'a', line: 1 }));
  assert.throws(() => readCsvDataset(''), concordError({ field: 'row', line: 1, expected: 'a header row' }));
});

test('csvSource: loads a file; a missing file is an error naming the path', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'concord-csv-'));
  try {
    const file = join(dir, 'records.csv');
    await writeFile(file, 'f1,f2,label\n0,1,yes\n1,0,no\n');
    const source = csvSource(file);
    assert.equal(source.name, 'csv records.csv');
    const d = await source.load();
    assert.deepEqual([...d.x], [0, 1, 1, 0]);
    assert.deepEqual([...d.y], [1, 0]);
    await assert.rejects(csvSource(join(dir, 'missing.csv')).load(), concordError({ field: 'path', received: join(dir, 'missing.csv') }, ErrorCode.NOT_FOUND));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
