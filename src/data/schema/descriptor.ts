// What a member publishes about its schema-validated data: the schema it was checked
// against (name, version, hash) and, per field, its type and how many values are present
// and missing. Never a value.

import type { DatasetSchemaDescriptor } from '../../protocol/messages.js';
import { type DataSchema, schemaHash } from './schema.js';
import type { HarmonisedRecord } from './validate.js';

export function describeRecords(schema: DataSchema, records: readonly HarmonisedRecord[]): DatasetSchemaDescriptor {
  return {
    name: schema.name,
    version: schema.version,
    hash: schemaHash(schema),
    records: records.length,
    fields: schema.fields.map((f) => {
      const present = records.reduce((n, r) => n + (r[f.name] === null || r[f.name] === undefined ? 0 : 1), 0);
      return { name: f.name, type: f.type, present, missing: records.length - present };
    }),
  };
}
