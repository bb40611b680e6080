import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { generatePatients, hospitalSchema, writeHospitals } from '../hospitals.js';
import { loadMemberData } from '../spec.js';
import { readCsvTable } from '../sources/csv.js';
import { tabularSourceForFile } from '../sources/index.js';
import { featureLayout } from './harmonise.js';
import { parseDataSchema } from './schema.js';
import { validateTables } from './validate.js';
import { temporaryDirs } from '../../core/temp-dirs.fixture.js';

const tempDir = temporaryDirs();

const SCHEMA = `
name: ward
version: 1
label: outcome
fields:
  - { name: glucose, type: number, unit: mmol/L, molarMass: 180.156, range: [1, 40], missing: allowed }
  - { name: pressure, type: number, unit: mmHg }
  - { name: sex, type: category, values: [female, male], synonyms: { F: female } }
  - { name: smoker, type: boolean }
  - { name: admitted, type: date, missing: allowed }
  - { name: outcome, type: category, values: [low, high] }
`;

async function csv(text: string): Promise<string> {
  const path = join(await tempDir('concord-schema-'), 'site.csv');
  await writeFile(path, text);
  return path;
}

test('columns are found by name in any order and units are converted to the schema’s', async () => {
  const schema = parseDataSchema(SCHEMA, { format: 'yaml' });
  const path = await csv('outcome,sex,pressure [kPa],glucose [mg/dL],smoker,admitted,extra\nhigh,F,16,180.156,yes,2024-03-01,x\nlow,male,12,,0,,y\n');
  const { problems, records } = validateTables(schema, [await readCsvTable(path)]);
  assert.deepEqual(problems, []);
  assert.equal(records.length, 2);
  assert.ok(Math.abs((records[0]!.glucose as number) - 10) < 1e-9, `180.156 mg/dL of glucose is 10 mmol/L, got ${records[0]!.glucose}`);
  assert.ok(Math.abs((records[0]!.pressure as number) - 16 / 0.133322) < 1e-3, `16 kPa is 120.01 mmHg, got ${records[0]!.pressure}`);
  assert.equal(records[0]!.sex, 'female');
  assert.equal(records[0]!.smoker, true);
  assert.equal(records[0]!.admitted, Date.UTC(2024, 2, 1) / 86_400_000);
  assert.equal(records[1]!.glucose, null);
  assert.equal(records[1]!.smoker, false);
  assert.ok(!('extra' in records[0]!), 'local columns outside the schema are not read');
});

test('every class of bad local data is reported at once with file, row, column, value and expectation', async () => {
  const schema = parseDataSchema(SCHEMA, { format: 'yaml' });
  const path = await csv(
    [
      'outcome,sex,pressure [bogon],glucose [mg/dL],smoker,admitted,glucose [mmol/L]',
      'high,X,12,abc,maybe,2024-13-45,1',
      'unknown,female,12,999999,yes,2024-01-01,1',
      'low,male,12',
      'low,,12,90,no,,1',
    ].join('\n'),
  );
  const { problems } = validateTables(schema, [await readCsvTable(path)]);
  const has = (row: number | null, column: string, pattern: RegExp) =>
    assert.ok(problems.some((p) => p.file === path && p.row === row && p.column === column && pattern.test(`${p.message} ${p.expected} ${p.value}`)), `expected a problem at row ${row}, column ${column} matching ${pattern}; got\n${JSON.stringify(problems, null, 1)}`);
  has(null, 'pressure [bogon]', /not a unit js-quantities knows/); // unknown unit
  has(null, 'glucose [mmol/L]', /two columns/); // duplicate column for one field
  has(1, 'sex', /"X" is not one of the agreed values.*one of female, male/); // category
  has(1, 'glucose [mg/dL]', /expected a number, found "abc"/); // not a number
  has(1, 'smoker', /not a boolean/); // boolean
  has(1, 'admitted', /not an ISO 8601 date/); // date
  has(2, 'outcome', /"unknown" is not one of the agreed values/); // label category
  has(2, 'glucose [mg/dL]', /outside the agreed range \[1, 40\]/); // range after conversion
  has(3, '(row)', /3 fields, the header 7/); // ragged row
  has(4, 'sex', /may not be missing/); // missing not allowed
  const unitless = await csv('outcome,sex,pressure [mmol/L],smoker,admitted\nlow,female,1,no,\n');
  const more = validateTables(schema, [await readCsvTable(unitless)]).problems;
  assert.ok(more.some((p) => p.column === 'glucose' && p.row === null && /no column for field glucose/.test(p.message))); // missing column
  assert.ok(more.some((p) => p.column === 'pressure [mmol/L]' && /cannot convert mmol\/L to mmHg/.test(p.message))); // other dimension
  await assert.rejects(loadMemberData(`csv:${path},schema=${await schemaFile()}`), (e: Error) => /does not match data schema ward v1 \(1\d problems\)/.test(e.message));
});

async function schemaFile(): Promise<string> {
  const path = join(await tempDir('concord-schema-'), 'schema.yaml');
  await writeFile(path, SCHEMA);
  return path;
}

test('a schema refuses unknown keys with the closest one, and relations between fields', () => {
  assert.throws(() => parseDataSchema('name: s\nversion: 1\nlabel: y\nfields:\n  - { name: y, type: category, values: [a, b], mising: allowed }\n', { format: 'yaml' }), /unknown field "mising"; did you mean `fields\[0\]\.missing`\?/);
  assert.throws(() => parseDataSchema('name: s\nversion: 1\nlabel: z\nfields:\n  - { name: y, type: number, unit: parsecs-per-fortnight }\n', { format: 'yaml' }), (e: Error) => /not a unit js-quantities knows/.test(e.message) && /label "z" is not a field/.test(e.message));
  assert.throws(() => parseDataSchema('name: s\nversion: 1\nlabel: y\nfields:\n  - { name: y, type: category, values: [a, b], synonyms: { A: c } }\n', { format: 'yaml' }), /maps to "c", which is not one of the values/);
});

test('the hospital files, in their own orders, units, spellings and formats, harmonise to the generated patients', async () => {
  const out = await tempDir('concord-hospitals-');
  const { files } = await writeHospitals({ out, sites: 4 });
  assert.deepEqual(files.map((f) => f.path.split('.').pop()), ['csv', 'csv', 'parquet', 'arrow']);
  const schema = hospitalSchema();
  for (const file of files) {
    const { problems, records } = validateTables(schema, [await tabularSourceForFile(file.path).read(file.path)]);
    assert.deepEqual(problems, [], file.path);
    const truth = generatePatients(file.site, file.records);
    assert.equal(records.length, truth.length);
    records.forEach((r, i) => {
      const p = truth[i]!;
      for (const key of ['age', 'systolic_bp', 'glucose', 'cholesterol', 'bmi', 'followup'] as const) {
        if (p[key] === null) assert.equal(r[key], null);
        else assert.ok(Math.abs((r[key] as number) - p[key]) <= 0.02 * Math.max(1, Math.abs(p[key])), `${file.path} row ${i + 1} ${key}: ${r[key]} vs ${p[key]}`);
      }
      assert.equal(r.sex, p.sex);
      assert.equal(r.smoker, p.smoker);
      assert.equal(r.event, p.event);
      assert.equal(r.outcome, p.outcome);
    });
    const member = await loadMemberData(file.spec);
    assert.equal(member.train.inputShape[0], featureLayout(schema).length);
    assert.equal(member.descriptor.schema?.records, truth.length);
    assert.ok(!JSON.stringify(member.descriptor).includes(truth[0]!.patient_id), 'the descriptor carries counts, not values');
  }
});
