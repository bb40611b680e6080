// What `concord data …` does (registered in data-commands.ts).

import { writeFile } from 'node:fs/promises';
import { writeImageFolder } from '../data/image-folder.js';
import { formatRatingsCsv } from '../data/ratings.js';
import { loadMemberData, parseDataSpec } from '../data/spec.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';

export async function dataImages(opts: { data: string; out: string; json?: boolean }): Promise<void> {
  const member = await loadMemberData(opts.data);
  const perClass = await writeImageFolder([member.train, member.holdout], opts.out);
  const files = perClass.reduce((a, b) => a + b, 0);
  const result = { out: opts.out, files, perClass, inputShape: member.descriptor.inputShape };
  process.stdout.write(opts.json ? `${JSON.stringify(result)}\n` : `wrote ${files} images of ${member.descriptor.name} to ${opts.out}/<label>/ (per class: ${perClass.join(', ')})\n`);
}

export async function dataRatings(opts: { data: string; out: string; json?: boolean }): Promise<void> {
  const spec = parseDataSpec(opts.data);
  if (!spec.ratings) throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `--data must name ratings (ratings:…), not ${spec.source}`, { details: { field: 'data', expected: 'ratings:…', received: opts.data } });
  const member = await loadMemberData(spec);
  const ratings = member.train.y.length + member.holdout.y.length;
  const x = new Float32Array(ratings * 2);
  x.set(member.train.x);
  x.set(member.holdout.x, member.train.x.length);
  const y = new Int32Array(ratings);
  y.set(member.train.y);
  y.set(member.holdout.y, member.train.y.length);
  const users = new Set(Array.from({ length: ratings }, (_, i) => x[2 * i]!)).size;
  await writeFile(opts.out, formatRatingsCsv({ x, y }));
  const result = { out: opts.out, ratings, users, vocabulary: member.descriptor.vocabulary };
  process.stdout.write(opts.json ? `${JSON.stringify(result)}\n` : `wrote ${ratings} ratings by ${users} users of ${member.descriptor.name} to ${opts.out} (user,item,rating)\n`);
}

export async function dataHospitals(opts: { out: string; sites: string; seed: string; json?: boolean }): Promise<void> {
  const { writeHospitals } = await import('../data/hospitals.js');
  const sites = Number(opts.sites);
  const seed = Number(opts.seed);
  if (!Number.isInteger(sites) || sites < 1 || sites > 26) throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `--sites must be an integer in [1, 26], received ${opts.sites}`, { details: { field: 'sites', expected: '1..26', received: opts.sites } });
  if (!Number.isSafeInteger(seed)) throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `--seed must be an integer, received ${opts.seed}`, { details: { field: 'seed', expected: 'an integer', received: opts.seed } });
  const result = await writeHospitals({ out: opts.out, sites, seed });
  process.stdout.write(opts.json ? `${JSON.stringify(result)}\n` : `${result.files.map((f) => `${f.path}: ${f.records} records  (member data spec: ${f.spec})`).join('\n')}\nschema: ${result.schema}\n`);
}

export async function dataValidate(files: string[], opts: { schema: string; json?: boolean }): Promise<void> {
  const { loadSchemaFile, validateTables, describeRecords, formatDataProblem } = await import('../data/schema/index.js');
  const { tabularSourceForFile } = await import('../data/sources/index.js');
  const schema = await loadSchemaFile(opts.schema);
  const tables = await Promise.all(files.map((f) => tabularSourceForFile(f).read(f)));
  const { problems, records } = validateTables(schema, tables);
  const descriptor = describeRecords(schema, records);
  if (opts.json) process.stdout.write(`${JSON.stringify({ ok: problems.length === 0, problems, descriptor })}\n`);
  else if (problems.length === 0) process.stdout.write(`${files.join(', ')}: ${records.length} records match ${schema.name} v${schema.version}\n`);
  else process.stdout.write(`${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${problems.map((p) => `  - ${formatDataProblem(p)}`).join('\n')}\n`);
  if (problems.length > 0) process.exitCode = 1;
}
