// What the file sources (csv, parquet, arrow) share: the keys label, classes and schema, and
// the two ways a table becomes a Dataset (table.ts): plainly, or harmonised through the
// consortium data schema, which validates every row first and fails with every problem.

import { basename } from 'node:path';
import type { Dataset } from '../dataset.js';
import { loadSchemaFile } from '../schema/schema.js';
import { describeRecords } from '../schema/descriptor.js';
import { recordsToDataset } from '../schema/harmonise.js';
import { assertValid, validateTables } from '../schema/validate.js';
import type { DataSourceModule, SourceSpec } from './source.js';
import { type Table, plainDataset } from './table.js';

export interface TabularOptions {
  name: string;
  usage: string;
  read(path: string): Promise<Table>;
  /** The plain (schema-less) reading, when the format has its own. Default plainDataset. */
  plain?(spec: SourceSpec): Promise<Dataset>;
  describe?(spec: SourceSpec): string;
}

export interface TabularModule extends DataSourceModule {
  read(path: string): Promise<Table>;
}

export function tabularModule(options: TabularOptions): TabularModule {
  return {
    name: options.name,
    usage: options.usage,
    takesPath: true,
    keys: ['label', 'classes', 'schema'],
    defaultTest: 0,
    grouped: false,
    read: options.read,
    options: (keys) => {
      const schema = keys.text('schema');
      return { label: keys.text('label') || 'label', ...(schema ? { schema } : {}) };
    },
    async load(spec) {
      if (spec.schema) {
        const schema = await loadSchemaFile(spec.schema);
        const records = assertValid(schema, validateTables(schema, [await options.read(spec.path!)]));
        return { ...recordsToDataset(schema, records), schema: describeRecords(schema, records) };
      }
      if (options.plain) return options.plain(spec);
      return plainDataset(await options.read(spec.path!), { ...(spec.label ? { label: spec.label } : {}), ...(spec.classes ? { classes: spec.classes } : {}) });
    },
    describe: options.describe ?? ((spec) => `${options.name} ${basename(spec.path!)}`),
  };
}
