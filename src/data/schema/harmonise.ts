// From validated records to the model's inputs, with a layout fixed by the schema alone so
// every member builds the same columns in the same order: a number is one column (in the
// schema's unit), a category one column per agreed value (one-hot), a boolean one 0/1
// column; dates, text and identifiers are not model inputs. A missing value is NaN in every
// column of its field — never silently 0 — until the run's harmonised preprocessing
// (model/preprocessing.ts) imputes it from federated statistics.

import type { Dataset } from '../dataset.js';
import type { Table } from '../sources/table.js';
import { type DataSchema, labelClasses, labelField } from './schema.js';
import { type HarmonisedRecord, assertValid, validateTables } from './validate.js';

export interface FeatureColumn {
  field: string;
  /** numeric: the value itself; indicator: 1 when the field equals `value`. */
  kind: 'numeric' | 'indicator';
  value?: string;
}

export function featureLayout(schema: DataSchema): FeatureColumn[] {
  const columns: FeatureColumn[] = [];
  for (const f of schema.fields) {
    if (f.name === schema.label || !f.feature) continue;
    if (f.type === 'number' || f.type === 'boolean') columns.push({ field: f.name, kind: 'numeric' });
    else if (f.type === 'category') for (const value of f.values) columns.push({ field: f.name, kind: 'indicator', value });
  }
  return columns;
}

export function recordsToDataset(schema: DataSchema, records: readonly HarmonisedRecord[]): Dataset {
  const layout = featureLayout(schema);
  const classes = labelClasses(schema);
  const label = labelField(schema);
  const x = new Float32Array(records.length * layout.length);
  const y = new Int32Array(records.length);
  records.forEach((record, r) => {
    layout.forEach((column, j) => {
      const v = record[column.field];
      x[r * layout.length + j] = v === null || v === undefined ? NaN : column.kind === 'indicator' ? (v === column.value ? 1 : 0) : typeof v === 'boolean' ? (v ? 1 : 0) : Number(v);
    });
    const l = record[label.name];
    y[r] = classes.indexOf(label.type === 'boolean' ? String(l) : String(l));
  });
  return { x, y, inputShape: [layout.length], classes: classes.length };
}

/** Validates the tables (every problem at once) and builds the harmonised dataset. */
export function harmonisedDataset(schema: DataSchema, tables: readonly Table[]): Dataset {
  return recordsToDataset(schema, assertValid(schema, validateTables(schema, tables)));
}
