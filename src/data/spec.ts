// The data SPEC string that names, on a command line, which data a process works on:
//
//   mnist:member=2,members=5,partition=dirichlet,alpha=0.5,seed=42,holdout=0.2,test=1000
//   mnist:test,test=1000          the global test set (never given to a member)
//   mnist:pool,members=5,…        the centralized baseline: the union of all members' train splits
//   csv:path/to/file.csv,label=diagnosis,holdout=0.2,seed=1
//   parquet:site.parquet,schema=consortium.yaml   (also arrow:FILE; csv, parquet and arrow
//                                  take schema=FILE: validated and harmonised, data/schema/)
//   spam:member=0,members=5,partition=source,vocab=20000,length=200,cls=1
//   ratings:member=0,members=5,partition=source   the generated demo ratings (data/ratings.ts)
//   ratings:file=my-users.csv     a member's own ratings file (user,item,rating; items=N bounds its item ids)
//
// `member` is 0-based. Keys: member, members (default 1), partition (iid | dirichlet |
// shards, default iid), alpha (0.5), shards (per member, 2), min (smallest Dirichlet
// share, 10), seed (0), holdout (0.2), test (1000 for mnist, 0 for csv); for csv also
// label (column name, default 'label') and classes (agreed label values, '|'-separated).
// spam is the SpamAssassin mail corpus, tokenized by the consortium's hashing tokenizer
// (data/tokenizer.ts): vocab (ids, default 20000), length (tokens per email, 200), cls
// (1 to start each sequence with [CLS], for transformers); its partition may also be
// 'source', which gives member i the source folders i, i + members, … whole. ratings are
// generated user–item ratings (users, items, regions; partition=source gives each member the
// users of its regions, as a country's service holds its country's users); no test set;
// ratings:file=PATH reads a CSV user,item,rating instead (data/ratings.ts, as the browser member does).
// The path of a file spec may not contain a comma. Each source is one module of the registry
// in data/sources/; this module parses the common keys and asks the source for its own.

import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { DatasetSchemaDescriptor } from '../protocol/messages.js';
import { closestName } from '../protocol/problems.js';
import { type Dataset, type MemberData, assertDataset, subset } from './dataset.js';
import { type PartitionName, type SplitOptions, type SplitPlan, planSplits, pooledTrainIndices } from './plan.js';
import { type DataSourceModule, type KeyReader, type LoadedData, type SourceSpec, SOURCE_NAMES, sourceModule, tabularSource } from './sources/index.js';
import { type DataSchema, labelClasses, loadSchemaFile } from './schema/schema.js';
import { type HarmonisedRecord, assertValid, validateTables } from './schema/validate.js';

export type DataSelection = 'member' | 'test' | 'pool' | 'all';

export interface DataSpec extends SourceSpec {
  /** 'all' is every example outside the test set; 'member' needs `member`. */
  select: DataSelection;
  member?: number;
  split: Required<SplitOptions>;
}

const PARTITIONS: readonly PartitionName[] = ['iid', 'dirichlet', 'shards', 'source'];
const COMMON_KEYS = ['member', 'members', 'partition', 'alpha', 'shards', 'min', 'seed', 'holdout', 'test'];

function specError(spec: string, field: string, expected: string, received: unknown, message: string): ConcordError {
  return new ConcordError(ErrorCode.INVALID_ARGUMENT, `data spec "${spec}": ${message}`, { details: { field, expected, received } });
}

function moduleOf(spec: DataSpec | string): DataSourceModule {
  const name = typeof spec === 'string' ? spec : spec.source;
  const module = sourceModule(name);
  if (!module) throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `unknown data source "${name}"`, { details: { field: 'source', expected: SOURCE_NAMES.join(' or '), received: name } });
  return module;
}

export function parseDataSpec(spec: string): DataSpec {
  const colon = spec.indexOf(':');
  const source = colon < 0 ? spec : spec.slice(0, colon);
  const tokens = colon < 0 || colon === spec.length - 1 ? [] : spec.slice(colon + 1).split(',');
  const module = sourceModule(source);
  if (!module) {
    const meant = closestName(source, SOURCE_NAMES);
    const usages = SOURCE_NAMES.map((n) => sourceModule(n)!.usage);
    throw specError(spec, 'source', SOURCE_NAMES.join(' or '), source, `unknown data source "${source}"; ${meant ? `did you mean "${meant}:…"? ` : ''}expected ${usages.slice(0, -1).join(', ')} or ${usages[usages.length - 1]}`);
  }
  let path: string | undefined;
  if (module.takesPath) {
    path = tokens.shift()?.trim();
    if (!path) throw specError(spec, 'path', `a file path after "${source}:"`, '', `a ${source} spec starts with the file path, e.g. ${source}:data.${source === 'arrow' ? 'arrow' : source},label=diagnosis`);
  }
  const allowed = [...COMMON_KEYS, ...module.keys];
  const values = new Map<string, string>();
  const flags = new Set<'test' | 'pool'>();
  for (const raw of tokens) {
    const token = raw.trim();
    if (token === '') continue;
    const eq = token.indexOf('=');
    if (eq < 0) {
      if (token !== 'test' && token !== 'pool') throw specError(spec, token, 'test, pool or key=value', token, `"${token}" is neither test, pool nor key=value`);
      flags.add(token);
      continue;
    }
    const key = token.slice(0, eq).trim();
    if (!allowed.includes(key)) {
      const meant = closestName(key, allowed);
      throw specError(spec, key, `one of ${allowed.join(', ')}`, key, `unknown key "${key}"; ${meant ? `did you mean "${meant}"?` : `expected one of ${allowed.join(', ')}`}`);
    }
    if (values.has(key)) throw specError(spec, key, 'each key once', token, `key "${key}" is given twice`);
    values.set(key, token.slice(eq + 1).trim());
  }

  const number = (key: string, fallback: number, expected: string, valid: (v: number) => boolean): number => {
    const raw = values.get(key);
    if (raw === undefined) return fallback;
    const v = raw === '' ? NaN : Number(raw);
    if (!valid(v)) throw specError(spec, key, expected, raw, `${key} must be ${expected}, received "${raw}"`);
    return v;
  };
  const integerAtLeast = (min: number) => (v: number) => Number.isInteger(v) && v >= min;

  const partition = values.get('partition') ?? 'iid';
  if (!PARTITIONS.includes(partition as PartitionName)) {
    throw specError(spec, 'partition', PARTITIONS.join(' | '), partition, `partition must be one of ${PARTITIONS.join(', ')}, received "${partition}"`);
  }
  const membersGiven = values.has('members');
  const split: Required<SplitOptions> = {
    members: number('members', 1, 'an integer >= 1', integerAtLeast(1)),
    partition: partition as PartitionName,
    alpha: number('alpha', 0.5, 'a finite number > 0', (v) => Number.isFinite(v) && v > 0),
    shardsPerMember: number('shards', 2, 'an integer >= 1', integerAtLeast(1)),
    minSize: number('min', 10, 'an integer >= 0', integerAtLeast(0)),
    seed: number('seed', 0, 'an integer', Number.isSafeInteger),
    holdout: number('holdout', 0.2, 'a fraction in [0, 1)', (v) => v >= 0 && v < 1),
    test: number('test', module.defaultTest, 'an integer >= 0', integerAtLeast(0)),
  };
  if (split.partition === 'source' && !module.grouped) {
    throw specError(spec, 'partition', 'iid | dirichlet | shards', 'source', `partition=source needs data with sources (spam folders, ratings regions); ${source} has none`);
  }
  const keys: KeyReader = { has: (key) => values.has(key), text: (key) => values.get(key), number };
  const own = module.options(keys);

  let select: DataSelection = 'all';
  let member: number | undefined;
  if (flags.size > 1) throw specError(spec, 'test', 'either test or pool', 'test,pool', 'give either test or pool, not both');
  if (values.has('member')) {
    if (flags.size > 0) throw specError(spec, 'member', `no member with ${[...flags][0]}`, values.get('member'), `member=… selects one member's data and cannot be combined with ${[...flags][0]}`);
    if (!membersGiven) throw specError(spec, 'members', 'members=N next to member=…', undefined, 'member=… needs members=N, the number of members sharing the data');
    member = number('member', 0, `an integer in [0, ${split.members - 1}] (0-based, below members)`, (v) => Number.isInteger(v) && v >= 0 && v < split.members);
    select = 'member';
  } else if (flags.size === 1) {
    select = [...flags][0]!;
  }
  if (select === 'test' && split.test === 0) throw specError(spec, 'test', 'test=N with N >= 1', 0, 'the test set is empty; give its size with test=N');

  const classes = values.get('classes')?.split('|').map((c) => c.trim());
  if (classes && (classes.some((c) => c === '') || new Set(classes).size !== classes.length || classes.length < 2)) {
    throw specError(spec, 'classes', 'at least two distinct non-empty labels separated by |', values.get('classes'), 'classes must list at least two distinct labels separated by |, e.g. classes=benign|malignant');
  }
  return {
    source,
    ...(path === undefined ? {} : { path }),
    ...own,
    ...(classes ? { classes } : {}),
    select,
    ...(member === undefined ? {} : { member }),
    split,
  };
}

async function loadSource(spec: DataSpec): Promise<LoadedData> {
  return moduleOf(spec).load(spec);
}

async function loadPlanned(spec: string | DataSpec): Promise<{ parsed: DataSpec; data: Dataset; plan: SplitPlan; schema?: DatasetSchemaDescriptor; vocabulary?: number }> {
  const parsed = typeof spec === 'string' ? parseDataSpec(spec) : spec;
  const { groups, schema, vocabulary, ...data } = await loadSource(parsed);
  assertDataset(data, parsed.source);
  return { parsed, data, plan: planSplits(data.y, parsed.split, groups), ...(schema ? { schema } : {}), ...(vocabulary !== undefined ? { vocabulary } : {}) };
}

function describe(spec: DataSpec, memberIndex: number): string {
  const what = moduleOf(spec).describe(spec);
  const { members, partition, alpha, shardsPerMember, seed } = spec.split;
  if (members === 1) return what;
  const how = partition === 'dirichlet' ? `dirichlet alpha=${alpha}` : partition === 'shards' ? `${shardsPerMember} shards each` : partition === 'source' ? 'source folders' : 'iid';
  return `${what}, member ${memberIndex} of ${members} (${how}, seed ${seed})`;
}

/** One member's train and holdout data with its public descriptor (`member=i`, or the whole source for one member). */
export async function loadMemberData(spec: string | DataSpec): Promise<MemberData> {
  const { parsed, data, plan, schema, vocabulary } = await loadPlanned(spec);
  if (parsed.select === 'test' || parsed.select === 'pool') {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `a member's data is selected with member=i, not ${parsed.select}`, {
      details: { field: parsed.select, expected: 'member=i,members=N', received: parsed.select },
    });
  }
  const index = parsed.member ?? 0;
  if (parsed.select === 'all' && parsed.split.members > 1) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `members=${parsed.split.members} needs member=i to say which member's data to load`, {
      details: { field: 'member', expected: `an integer in [0, ${parsed.split.members - 1}]`, received: undefined },
    });
  }
  const share = plan.members[index]!;
  const train = subset(data, share.train);
  const holdout = subset(data, share.holdout);
  return {
    train,
    holdout,
    descriptor: {
      name: describe(parsed, index),
      numExamples: share.train.length,
      numHoldout: share.holdout.length,
      inputShape: [...data.inputShape],
      classes: data.classes,
      ...(parsed.tokenizer ? { vocabulary: parsed.tokenizer.vocabSize } : {}),
      ...(vocabulary !== undefined ? { vocabulary } : {}),
      ...(schema ? { schema } : {}),
    },
  };
}

/** The union of every member's training split for the spec's members, partition and seed. */
export async function centralizedTrainingData(spec: string | DataSpec): Promise<Dataset> {
  const { data, plan } = await loadPlanned(spec);
  return subset(data, pooledTrainIndices(plan));
}

/** A dataset that is not one member's: `test`, `pool`, a member's train split (`member=i`), or everything outside the test set. */
export async function loadDataset(spec: string | DataSpec): Promise<Dataset> {
  const { parsed, data, plan } = await loadPlanned(spec);
  switch (parsed.select) {
    case 'test':
      return subset(data, plan.test);
    case 'pool':
      return subset(data, pooledTrainIndices(plan));
    case 'member':
      return subset(data, plan.members[parsed.member!]!.train);
    case 'all':
      return subset(data, plan.members.flatMap((m) => [...m.train, ...m.holdout]).sort((a, b) => a - b));
  }
}

/**
 * A member's validated, harmonised records for analytics (data/schema/): its file read again
 * and checked against its schema — every problem at once — then narrowed to the member's
 * share (train and holdout) when the spec splits one file among members.
 */
export async function loadMemberRecords(spec: string | DataSpec): Promise<{ schema: DataSchema; records: HarmonisedRecord[] }> {
  const parsed = typeof spec === 'string' ? parseDataSpec(spec) : spec;
  const source = tabularSource(parsed.source);
  if (!source || !parsed.schema) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `analytics needs data validated against the consortium schema: a csv, parquet or arrow spec with schema=FILE, not ${parsed.source}${parsed.schema ? '' : ' without schema='}`, {
      details: { field: 'schema', expected: 'csv|parquet|arrow:FILE,schema=SCHEMA', received: parsed.source },
    });
  }
  const schema = await loadSchemaFile(parsed.schema);
  const all = assertValid(schema, validateTables(schema, [await source.read(parsed.path!)]));
  if (parsed.split.members === 1 && parsed.split.test === 0) return { schema, records: all };
  const classes = labelClasses(schema);
  const labels = all.map((r) => classes.indexOf(String(r[schema.label])));
  const plan = planSplits(labels, parsed.split);
  const share = parsed.select === 'member' ? plan.members[parsed.member!]! : { train: plan.members.flatMap((m) => m.train), holdout: plan.members.flatMap((m) => m.holdout) };
  return { schema, records: [...share.train, ...share.holdout].sort((a, b) => a - b).map((i) => all[i]!) };
}
