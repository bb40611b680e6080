// What a data source is to the rest of Concord: one module per source (mnist, csv, parquet,
// arrow, spam, ratings) that declares how a data spec names it, which keys it takes, how it
// loads its examples and how it describes them. data/spec.ts parses the common keys and asks
// the registry (sources/index.ts) for everything else, so adding a source touches this folder.

import type { DatasetSchemaDescriptor } from '../../protocol/messages.js';
import type { Dataset } from '../dataset.js';

/** The parsed data spec (data/spec.ts); a source fills in the fields it owns. */
export interface SourceSpec {
  source: string;
  /** The file of a file source (csv, parquet, arrow). */
  path?: string;
  /** Tabular sources: the label column. */
  label?: string;
  /** Tabular sources: the agreed class labels, in class-index order. */
  classes?: string[];
  /** Tabular sources: the consortium data schema the file is validated and harmonised against. */
  schema?: string;
  /** Text (spam): the tokenizer the consortium agreed on. */
  tokenizer?: { vocabSize: number; length: number; cls: boolean };
  /** Ratings: how many users, items and regions to generate, or a file of them (items: the ids it may use). */
  ratings?: { users: number; items: number; regions: number } | { file: string; items?: number };
}

/** Reads the source's own keys of a spec; a bad value throws the spec's error for that key. */
export interface KeyReader {
  has(key: string): boolean;
  text(key: string): string | undefined;
  number(key: string, fallback: number, expected: string, valid: (v: number) => boolean): number;
}

/**
 * A source's examples; `groups` names each example's source, `schema` describes
 * schema-validated data, `vocabulary` bounds the ids of id data (ratings: the item ids).
 */
export type LoadedData = Dataset & { groups?: Int32Array; schema?: DatasetSchemaDescriptor; vocabulary?: number };

export interface DataSourceModule {
  readonly name: string;
  /** How a spec of this source looks, for error messages, e.g. `csv:FILE,…`. */
  readonly usage: string;
  /** Whether the spec starts with a file path (`csv:data.csv,…`). */
  readonly takesPath: boolean;
  /** Keys beyond the common ones (member, members, partition, …). */
  readonly keys: readonly string[];
  /** Examples held out as the global test set unless `test=N` says otherwise. */
  readonly defaultTest: number;
  /** Whether examples come in sources (folders, regions), so that partition=source applies. */
  readonly grouped: boolean;
  /** The source's fields of the spec from its keys. */
  options(keys: KeyReader): Omit<SourceSpec, 'source' | 'path'>;
  /** Every example, in a fixed order; `groups` names each example's source when `grouped`. */
  load(spec: SourceSpec): Promise<LoadedData>;
  /** A short public name of the data, e.g. `csv ward.csv`. */
  describe(spec: SourceSpec): string;
}
