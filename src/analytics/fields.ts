// How a query reads the schema's fields: a numeric field with its bounds (the query's or the
// schema's range), a categorical field with its levels (a category's values, a boolean's
// false/true). Anything else is a problem naming the field and what it must be.

import type { DataSchema, SchemaField } from '../data/schema/schema.js';
import type { FieldValue } from '../data/schema/validate.js';
import { queryError } from './query.js';

export interface NumericField {
  name: string;
  low: number;
  high: number;
  /** Largest |value| after clamping. */
  magnitude: number;
  /** The record's value clamped into [low, high], or null when missing. */
  read(value: FieldValue | undefined): number | null;
}

export interface CategoricalField {
  name: string;
  levels: string[];
  /** Index of the record's level, or null when missing. */
  read(value: FieldValue | undefined): number | null;
}

function lookup(schema: DataSchema, name: string, where: string): SchemaField {
  const field = schema.fields.find((f) => f.name === name);
  if (!field) throw queryError(where, `a field of schema ${schema.name}: ${schema.fields.map((f) => f.name).join(', ')}`, name, `${where}: ${JSON.stringify(name)} is not a field of schema ${schema.name}`);
  return field;
}

export function numericField(schema: DataSchema, name: string, where: string, bounds?: readonly [number, number]): NumericField {
  const field = lookup(schema, name, where);
  if (field.type !== 'number' && field.type !== 'date' && field.type !== 'boolean') throw queryError(where, 'a number, date or boolean field', field.type, `${where}: ${name} is a ${field.type} field, not numeric`);
  const range = bounds ?? (field.type === 'number' ? field.range : field.type === 'boolean' ? ([0, 1] as const) : undefined);
  if (!range) throw queryError(`${where}.bounds`, '[low, high]', undefined, `${where}: ${name} has no range in the schema, so give bounds [low, high]: every record's contribution must be bounded`);
  const [low, high] = range;
  if (!(high > low)) throw queryError(`${where}.bounds`, 'low < high', range, `${where}: bounds of ${name} must have low < high`);
  return {
    name,
    low,
    high,
    magnitude: Math.max(Math.abs(low), Math.abs(high)),
    read(value) {
      if (value === null || value === undefined) return null;
      const v = typeof value === 'boolean' ? (value ? 1 : 0) : Number(value);
      return v < low ? low : v > high ? high : v;
    },
  };
}

export function categoricalField(schema: DataSchema, name: string, where: string): CategoricalField {
  const field = lookup(schema, name, where);
  if (field.type !== 'category' && field.type !== 'boolean') throw queryError(where, 'a category or boolean field', field.type, `${where}: ${name} is a ${field.type} field, not categorical`);
  const levels = field.type === 'category' ? [...field.values] : ['false', 'true'];
  return {
    name,
    levels,
    read(value) {
      if (value === null || value === undefined) return null;
      const i = levels.indexOf(String(value));
      return i < 0 ? null : i;
    },
  };
}
