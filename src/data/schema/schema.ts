// The consortium data schema: what each field of the shared dataset means — its type (number
// with a unit, category with its allowed values, boolean, date, free text, identifier),
// whether it may be missing, which field is the label, and (as metadata) the standard
// concept it corresponds to (OMOP CDM concept ids, LOINC codes, FHIR paths; docs/schema.md).
// It is a YAML/JSON document validated strictly (unknown keys are refused with the closest
// known one), carried in the cooperation agreement (governance/agreement.ts `dataSchema`), so
// it is versioned and amended with it. Members validate their local files against it
// (validate.ts) before they enroll and before every task.

import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { canonicalBytes } from '../../governance/canonical.js';
import { sha256Hex } from '../../governance/digest.js';
import { validateDocumentText, validateParsed } from '../../protocol/document.js';
import { ConcordError, ErrorCode } from '../../protocol/errors.js';
import type { RawProblem } from '../../protocol/problems.js';
import { parseUnit } from './units.js';

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const fieldName = z.string().min(1).max(128).regex(NAME, 'expected a letter or "_" then letters, digits, "_", "." or "-"');

const ConceptSchema = z
  .object({
    /** The vocabulary: OMOP, LOINC, SNOMED, FHIR, … */
    system: z.string().min(1).max(64),
    code: z.string().min(1).max(128),
    display: z.string().min(1).max(200).optional(),
  })
  .strict();

const common = {
  name: fieldName,
  description: z.string().max(2000).optional(),
  /** Whether a record may lack this value. Default: not allowed. */
  missing: z.enum(['allowed', 'forbidden']).default('forbidden'),
  concept: ConceptSchema.optional(),
  /** Whether models take the field as an input (numbers, categories, booleans). Default true; false for outcomes such as follow-up time. */
  feature: z.boolean().default(true),
};

const NumberField = z
  .object({
    ...common,
    type: z.literal('number'),
    /** The unit every member's values are converted to (js-quantities syntax: mmol/L, kPa, year). Absent: dimensionless. */
    unit: z.string().min(1).max(64).optional(),
    /** g/mol: lets a member's file give a molar concentration in mass units (mg/dL ↔ mmol/L). */
    molarMass: z.number().finite().positive().optional(),
    /** Plausible values, in `unit`: a value outside is a problem, and analytics bound each record's contribution by it. */
    range: z.tuple([z.number().finite(), z.number().finite()]).optional(),
  })
  .strict();

const CategoryField = z
  .object({
    ...common,
    type: z.literal('category'),
    values: z.array(z.string().min(1).max(200)).min(2),
    /** Spellings members may use for a value, e.g. { F: female }. */
    synonyms: z.record(z.string().min(1).max(200), z.string().min(1).max(200)).optional(),
  })
  .strict();

const BooleanField = z.object({ ...common, type: z.literal('boolean') }).strict();
const DateField = z.object({ ...common, type: z.literal('date') }).strict();
const TextField = z.object({ ...common, type: z.literal('text') }).strict();
const IdentifierField = z.object({ ...common, type: z.literal('identifier') }).strict();

export const FieldSchema = z.discriminatedUnion('type', [NumberField, CategoryField, BooleanField, DateField, TextField, IdentifierField]);
export type SchemaField = z.output<typeof FieldSchema>;
export type FieldType = SchemaField['type'];
export type NumberSchemaField = z.output<typeof NumberField>;
export type CategorySchemaField = z.output<typeof CategoryField>;

export const DataSchemaSchema = z
  .object({
    name: z.string().min(1).max(200),
    version: z.number().int().min(1),
    /** The field models predict: a category (classes in its value order) or a boolean. */
    label: fieldName,
    fields: z.array(FieldSchema).min(1),
  })
  .strict();
export type DataSchema = z.output<typeof DataSchemaSchema>;

/** Rules that relate fields to each other, reported with the schema's own problems. */
function crossCheck(raw: unknown): RawProblem[] {
  const problems: RawProblem[] = [];
  if (typeof raw !== 'object' || raw === null) return problems;
  const value = raw as { fields?: unknown; label?: unknown };
  const fields = Array.isArray(value.fields) ? (value.fields as Record<string, unknown>[]) : [];
  const seen = new Map<string, number>();
  fields.forEach((f, i) => {
    if (typeof f !== 'object' || f === null) return;
    if (typeof f.name === 'string') {
      if (seen.has(f.name)) problems.push({ path: ['fields', i, 'name'], message: `duplicate field ${JSON.stringify(f.name)} (also fields[${seen.get(f.name)}])` });
      else seen.set(f.name, i);
    }
    if (f.type === 'number' && typeof f.unit === 'string' && parseUnit(f.unit) === undefined) problems.push({ path: ['fields', i, 'unit'], message: `${JSON.stringify(f.unit)} is not a unit js-quantities knows (e.g. mmol/L, mg/dL, kPa, mmHg, year)` });
    if (f.type === 'number' && Array.isArray(f.range) && typeof f.range[0] === 'number' && typeof f.range[1] === 'number' && !(f.range[0] < f.range[1])) problems.push({ path: ['fields', i, 'range'], message: 'range must be [low, high] with low < high' });
    if (f.type === 'category' && Array.isArray(f.values)) {
      if (new Set(f.values).size !== f.values.length) problems.push({ path: ['fields', i, 'values'], message: 'category values must be distinct' });
      const synonyms = typeof f.synonyms === 'object' && f.synonyms !== null ? (f.synonyms as Record<string, unknown>) : {};
      for (const [spelling, target] of Object.entries(synonyms)) {
        if (!f.values.includes(target)) problems.push({ path: ['fields', i, 'synonyms', spelling], message: `synonym ${JSON.stringify(spelling)} maps to ${JSON.stringify(target)}, which is not one of the values ${(f.values as string[]).join(', ')}` });
      }
    }
  });
  if (typeof value.label === 'string') {
    const i = seen.get(value.label);
    if (i === undefined) problems.push({ path: ['label'], message: `label ${JSON.stringify(value.label)} is not a field; fields: ${[...seen.keys()].join(', ')}` });
    else if (fields[i]!.type !== 'category' && fields[i]!.type !== 'boolean') problems.push({ path: ['label'], message: `the label must be a category or boolean field; ${value.label} is ${String(fields[i]!.type)}` });
    else if (fields[i]!.missing === 'allowed') problems.push({ path: ['fields', i, 'missing'], message: 'the label may not be missing' });
  }
  return problems;
}

export function parseDataSchema(text: string, options: { source?: string; format?: 'json' | 'yaml' } = {}): DataSchema {
  const source = options.source ?? 'data schema';
  return validateDocumentText(DataSchemaSchema, text, { source, ...(options.format ? { format: options.format } : {}), extra: crossCheck });
}

/** Validates a schema that is already a value (from the agreement or the API). */
export function validateDataSchema(value: unknown, source = 'data schema'): DataSchema {
  return validateParsed(DataSchemaSchema, { value, locate: () => undefined }, source, crossCheck);
}

export { crossCheck as dataSchemaCrossCheck };

export async function loadSchemaFile(path: string): Promise<DataSchema> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new ConcordError(ErrorCode.NOT_FOUND, `cannot read data schema ${path}: ${(cause as Error).message}`, { details: { field: 'schema', expected: 'a readable schema file', received: path }, cause });
  }
  return parseDataSchema(text, { source: path });
}

/** SHA-256 of the schema's canonical JSON: what a run and a descriptor name the schema by. */
export function schemaHash(schema: DataSchema): string {
  return sha256Hex(canonicalBytes(schema as unknown as Record<string, unknown>));
}

export function labelField(schema: DataSchema): SchemaField {
  return schema.fields.find((f) => f.name === schema.label)!;
}

/** The label's classes, in class-index order: a category's values, or false/true. */
export function labelClasses(schema: DataSchema): string[] {
  const f = labelField(schema);
  return f.type === 'category' ? [...f.values] : ['false', 'true'];
}

export function fieldNamed(schema: DataSchema, name: string): SchemaField | undefined {
  return schema.fields.find((f) => f.name === name);
}
