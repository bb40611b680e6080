import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '../core/random.js';
import { hospitalSchema, writeHospitals } from '../data/hospitals.js';
import type { HarmonisedRecord } from '../data/schema/validate.js';
import { validateTables } from '../data/schema/validate.js';
import { tabularSourceForFile } from '../data/sources/index.js';
import { memberContribution } from './contribution.js';
import { noisePlan } from './dp.js';
import { addRing, decodeCells, limbsPerCell } from './fixed-point.js';
import { maxRelativeError, pooledStatistics } from './pooled.js';
import { type Query, parseQuery } from './query.js';
import { releaseResult } from './release.js';
import { compileQuery } from './statistics/index.js';
import { temporaryDirs } from '../core/temp-dirs.fixture.js';

const tempDir = temporaryDirs();

const schema = hospitalSchema();
let sites: HarmonisedRecord[][] | undefined;

async function hospitalRecords(): Promise<HarmonisedRecord[][]> {
  if (sites) return sites;
  const { files } = await writeHospitals({ out: await tempDir('concord-analytics-'), sites: 5 });
  sites = [];
  for (const f of files) sites.push(validateTables(schema, [await tabularSourceForFile(f.path).read(f.path)]).records);
  return sites;
}

/** The federated path without the network: each member encodes, the ring vectors add, the totals decode. */
function federated(query: Query, members: HarmonisedRecord[][], limbBits = 28, minCount = 10) {
  const plan = compileQuery(query, schema);
  const sum = new Uint32Array(plan.cells.length * limbsPerCell(limbBits));
  for (const records of members) addRing(sum, memberContribution(plan, records, limbBits));
  const { totals } = decodeCells(plan.cells, sum, limbBits);
  return { plan, totals, ...releaseResult({ plan, totals, contributors: members.length, secureAggregation: true, minCount, noise: query.privacy ? noisePlan(plan, query.privacy) : null, random: seededRandom(3) }) };
}

const EXACT_QUERIES: unknown[] = [
  { type: 'count' },
  { type: 'count', field: 'glucose' },
  { type: 'sum', field: 'cholesterol' },
  { type: 'mean', field: 'glucose' },
  { type: 'variance', field: 'systolic_bp' },
  { type: 'histogram', field: 'age', bins: { low: 20, high: 100, count: 16 } },
  { type: 'quantiles', field: 'bmi', bins: { low: 10, high: 70, count: 120 }, probabilities: [0.1, 0.5, 0.9] },
  { type: 'covariance', fields: ['age', 'systolic_bp', 'glucose'] },
  { type: 'correlation', fields: ['age', 'systolic_bp', 'glucose', 'cholesterol', 'bmi'] },
  { type: 'contingency', fields: ['sex', 'smoker'] },
  { type: 'groupby', by: 'smoker', field: 'cholesterol', statistic: 'variance' },
  { type: 'survival', time: 'followup', event: 'event', bins: { low: 0, high: 1800, count: 12 } },
  { type: 'summary', fields: ['age', 'sex', 'smoker', 'bmi', 'systolic_bp', 'glucose', 'cholesterol'] },
];

test('every exact release equals the pooled computation (max relative error ≤ 1e-9)', async () => {
  const members = await hospitalRecords();
  const pooled = members.flat();
  for (const raw of EXACT_QUERIES) {
    const query = parseQuery(raw);
    const { result } = federated(query, members);
    const reference = pooledStatistics(query, schema, pooled);
    const { maxRelativeError: e, compared, worst } = maxRelativeError(result.values, reference);
    assert.ok(compared >= 1 && compared === result.values.filter((v) => v.value !== null).length, `${query.type}: compared ${compared} values`);
    assert.ok(e <= 1e-9, `${query.type}: ${worst} is off by ${e}`);
    assert.equal(result.exact, true);
  }
});

test('cells below the minimum count are suppressed, saying so, and never carry a value', async () => {
  const members = await hospitalRecords();
  // Site e alone holds few current smokers with missing BMI: small cells appear in a fine table.
  const query = parseQuery({ type: 'histogram', field: 'age', bins: { edges: [18, 30, 40, 60, 80, 90, 110] } });
  const { result } = federated(query, [members[4]!], 28, 25);
  const reference = pooledStatistics(query, schema, members[4]!);
  for (const v of result.values) {
    const truth = reference.get(v.key)!;
    if (truth < 25) {
      assert.equal(v.value, null, `${v.key} holds ${truth} records`);
      assert.equal(v.suppressed, 'fewer than 25 records');
    } else assert.equal(v.value, truth);
  }
  assert.ok(result.values.some((v) => v.value === null) && result.values.some((v) => v.value !== null));
  const mean = federated(parseQuery({ type: 'mean', field: 'glucose' }), [members[4]!.slice(0, 9)], 28, 10).result;
  assert.deepEqual(mean.values.map((v) => v.value), [null, null]);
});

test('a query the schema cannot answer, or min/max without DP, is refused naming the field', () => {
  assert.throws(() => compileQuery(parseQuery({ type: 'mean', field: 'glucos' }), schema), /"glucos" is not a field of schema cardio-risk/);
  assert.throws(() => compileQuery(parseQuery({ type: 'mean', field: 'sex' }), schema), /sex is a category field, not numeric/);
  assert.throws(() => compileQuery(parseQuery({ type: 'minmax', field: 'age', bins: { low: 0, high: 100, count: 10 } }), schema), /only with differential privacy/);
  assert.throws(() => parseQuery({ type: 'mean', field: 'age', bins: 3 }), /unknown field "bins"/);
});

test('a DP query of counts gets the discrete Gaussian: integer cells, noise of the stated std (4 000 draws)', async () => {
  const members = await hospitalRecords();
  const query = parseQuery({ type: 'histogram', field: 'age', bins: { low: 20, high: 100, count: 8 }, privacy: { epsilon: 0.5, delta: 1e-6 } });
  const plan = compileQuery(query, schema);
  const noise = noisePlan(plan, query.privacy!);
  assert.equal(noise.mechanism, 'discrete-gaussian');
  const { totals, result } = federated(query, members);
  assert.ok(result.privacy!.cells.every((c) => Number.isInteger(c.value)), 'noised counts stay integers');
  const random = seededRandom(17);
  let sq = 0;
  const draws = 4_000;
  for (let i = 0; i < draws; i++) for (const d of releaseResult({ plan, totals, contributors: 5, secureAggregation: true, minCount: 10, noise, random }).drawn!) sq += d * d;
  const measured = Math.sqrt(sq / (draws * plan.cells.length));
  assert.ok(Math.abs(measured / noise.std[0]! - 1) < 0.02, `measured ${measured}, stated ${noise.std[0]}`);
});

test('DP noise has the stated standard deviation (10 000 draws) and calibrates to the bounded sensitivity', async () => {
  const members = await hospitalRecords();
  const query = parseQuery({ type: 'mean', field: 'glucose', privacy: { epsilon: 1, delta: 1e-6 } });
  const plan = compileQuery(query, schema);
  const noise = noisePlan(plan, query.privacy!);
  assert.equal(noise.sensitivity, Math.sqrt(2));
  assert.ok(Math.abs(noise.std[1]! / noise.std[0]! - 40) < 1e-12, 'the sum cell’s noise scales with its bound, glucose ≤ 40 mmol/L');
  const { totals } = federated(query, members);
  const random = seededRandom(11);
  const draws = 10_000;
  const sq = [0, 0];
  for (let i = 0; i < draws; i++) {
    const { drawn } = releaseResult({ plan, totals, contributors: 5, secureAggregation: true, minCount: 10, noise, random });
    sq[0]! += drawn![0]! ** 2;
    sq[1]! += drawn![1]! ** 2;
  }
  for (const c of [0, 1]) {
    const measured = Math.sqrt(sq[c]! / draws);
    // The sample std of 10 000 normal draws is within 3 % of the true one with overwhelming probability (its relative sd is 0.7 %).
    assert.ok(Math.abs(measured / noise.std[c]! - 1) < 0.03, `cell ${c}: measured ${measured}, stated ${noise.std[c]}`);
  }
});

test('through SecAgg+ in integer encoding the sum is exact despite a dropout, and the server sees only masked vectors', async () => {
  const { makeSecAggConfig } = await import('../privacy/secagg/protocol.js');
  const { simulateSecAgg } = await import('../privacy/secagg/simulate.js');
  const { defaultQuantizationBits } = await import('../privacy/secagg/quantize.js');
  const members = await hospitalRecords();
  const query = parseQuery({ type: 'variance', field: 'glucose' });
  const plan = compileQuery(query, schema);
  const ids = members.map((_, i) => `m${i}`);
  const bits = defaultQuantizationBits(ids.length);
  const limbBits = bits - 1;
  const vectors = new Map(members.map((records, i) => [ids[i]!, memberContribution(plan, records, limbBits)]));
  const config = makeSecAggConfig({ memberIds: ids, vectorLength: vectors.get('m0')!.length, encoding: 'integer', neighbours: 4 });
  const seen: string[] = [];
  const { result } = simulateSecAgg({
    config,
    update: (id) => ({ integers: vectors.get(id)! }),
    dropouts: { unmask: ['m2'] },
    onMessage: (direction, _id, message) => direction === 'reply' && seen.push(JSON.stringify(message)),
  });
  assert.deepEqual(result.contributors, ids);
  const { totals } = decodeCells(plan.cells, result.integerSum!, limbBits);
  const released = releaseResult({ plan, totals, contributors: 5, secureAggregation: true, minCount: 10, noise: null }).result;
  const { maxRelativeError: e } = maxRelativeError(released.values, pooledStatistics(query, schema, members.flat()));
  assert.ok(e <= 1e-9, `off by ${e}`);
  // No reply carries any member's own vector in the clear.
  for (const [id, v] of vectors) {
    const clear = Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64').slice(0, 24);
    assert.ok(!seen.some((m) => m.includes(clear)), `${id}'s vector appears in the clear`);
  }
  assert.throws(() => simulateSecAgg({ config, update: () => ({ integers: new Uint32Array(config.vectorLength).fill(2 ** 30) }), serialize: false }).result.integerSum, /.*/);
});
