// Validation of a member's local files against the consortium data schema. Columns are found
// by name in any order; a column header may declare its unit as `glucose [mg/dL]` (or
// `glucose (mg/dL)`), converted to the schema's unit; categories (and their agreed synonyms),
// booleans, dates, ranges and missing values are checked. Every problem of every file is
// reported at once, each with its file, row, column, the value found and what was expected.
// The result stays on the member: only describeRecords() (names, types, counts) leaves it.

import { ConcordError, ErrorCode } from '../../protocol/errors.js';
import { type Cell, type Table, cellText, numericCell } from '../sources/table.js';
import type { DataSchema, SchemaField } from './schema.js';
import { type Converter, converter } from './units.js';

/** A value after harmonisation: numbers in the schema's unit, categories as their agreed value, dates as days since 1970-01-01 (UTC). */
export type FieldValue = number | string | boolean | null;
export type HarmonisedRecord = Record<string, FieldValue>;

export interface DataProblem {
  file: string;
  /** 1-based data row; null for a problem of the file (a missing column, a bad unit). */
  row: number | null;
  /** The file's line, where that differs from the row (CSV). */
  line?: number;
  column: string;
  value: string | null;
  expected: string;
  message: string;
}

export interface ValidationResult {
  problems: DataProblem[];
  records: HarmonisedRecord[];
}

const HEADER_UNIT = /^(.*?)\s*[[(]\s*([^\])]+?)\s*[\])]\s*$/;
const TRUE = new Set(['true', 'yes', 'y', '1', 't']);
const FALSE = new Set(['false', 'no', 'n', '0', 'f']);
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ][0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$/;
const DAY_MS = 86_400_000;

interface Column {
  index: number;
  header: string;
  convert?: Converter;
  /** Its header is wrong (a bad unit): reported once, its values are not read. */
  broken?: boolean;
}

/** The header's field name and declared unit: `glucose [mg/dL]` → glucose, mg/dL. */
export function splitHeader(header: string): { name: string; unit?: string } {
  const m = HEADER_UNIT.exec(header.trim());
  return m ? { name: m[1]!.trim(), unit: m[2]!.trim() } : { name: header.trim() };
}

function show(cell: Cell): string | null {
  if (cell === null) return null;
  return cell instanceof Date ? cell.toISOString() : String(cell);
}

export function validateTables(schema: DataSchema, tables: readonly Table[]): ValidationResult {
  const problems: DataProblem[] = [];
  const records: HarmonisedRecord[] = [];
  for (const table of tables) {
    const found = new Map<string, Column>();
    const problem = (row: number | null, column: string, value: string | null, expected: string, message: string): void => {
      problems.push({ file: table.file, row: row === null ? null : row + 1, ...(row !== null && table.lineOf(row) !== row + 1 ? { line: table.lineOf(row) } : {}), column, value, expected, message });
    };
    table.columns.forEach((header, index) => {
      const { name, unit } = splitHeader(header);
      const field = schema.fields.find((f) => f.name === name);
      if (!field) return; // local extras stay local and unused
      if (found.has(name)) return problem(null, header, null, `one column for field ${name}`, `field ${name} has two columns: "${found.get(name)!.header}" and "${header}"`);
      const column: Column = { index, header };
      found.set(name, column);
      if (unit === undefined) return;
      column.broken = true;
      if (field.type !== 'number') return problem(null, header, unit, `no unit (${name} is a ${field.type})`, `the header declares unit ${unit}, but ${name} is a ${field.type} field`);
      const target = field.unit ?? '1';
      const c = converter(unit, target, field.molarMass);
      if ('reason' in c) return problem(null, header, unit, `a unit convertible to ${target}`, `cannot convert ${unit} to ${target}: ${c.reason}`);
      column.convert = c.convert;
      column.broken = false;
    });
    for (const field of schema.fields) {
      if (!found.has(field.name)) problem(null, field.name, null, `a column named ${field.name}${field.type === 'number' && field.unit ? ` (values in ${field.unit}, or another unit in the header, e.g. "${field.name} [${field.unit}]")` : ''}`, `the file has no column for field ${field.name}`);
    }
    const missingColumns = schema.fields.some((f) => !found.has(f.name) || found.get(f.name)!.broken);
    table.rows.forEach((row, r) => {
      if (row.length !== table.columns.length) {
        problem(r, '(row)', `${row.length} fields`, `${table.columns.length} fields as in the header`, `the row has ${row.length} fields, the header ${table.columns.length}`);
        return;
      }
      const record: HarmonisedRecord = {};
      let ok = true;
      for (const field of schema.fields) {
        const column = found.get(field.name);
        if (!column || column.broken) continue;
        const cell = row[column.index] ?? null;
        const value = readValue(field, cell, column.convert);
        if ('problem' in value) {
          ok = false;
          problem(r, column.header, show(cell), value.expected, value.problem);
        } else {
          record[field.name] = value.value;
        }
      }
      if (ok && !missingColumns) records.push(record);
    });
  }
  return { problems, records };
}

type Read = { value: FieldValue } | { problem: string; expected: string };

function readValue(field: SchemaField, cell: Cell, convert: Converter | undefined): Read {
  const text = cellText(cell);
  if (text === '' || (typeof cell === 'number' && Number.isNaN(cell))) {
    return field.missing === 'allowed' ? { value: null } : { problem: `${field.name} may not be missing`, expected: expectation(field) };
  }
  switch (field.type) {
    case 'number': {
      const raw = numericCell(cell);
      if (raw === undefined) return { problem: `expected a number, found ${JSON.stringify(text)}`, expected: expectation(field) };
      const v = convert ? convert(raw) : raw;
      if (field.range && (v < field.range[0] || v > field.range[1])) {
        return { problem: `${v}${field.unit ? ` ${field.unit}` : ''}${convert ? ` (converted from ${raw})` : ''} lies outside the agreed range [${field.range[0]}, ${field.range[1]}]`, expected: expectation(field) };
      }
      return { value: v };
    }
    case 'category': {
      const value = field.values.includes(text) ? text : field.synonyms?.[text];
      if (value === undefined) return { problem: `${JSON.stringify(text)} is not one of the agreed values`, expected: expectation(field) };
      return { value };
    }
    case 'boolean': {
      if (typeof cell === 'boolean') return { value: cell };
      const lower = text.toLowerCase();
      if (TRUE.has(lower)) return { value: true };
      if (FALSE.has(lower)) return { value: false };
      return { problem: `${JSON.stringify(text)} is not a boolean`, expected: expectation(field) };
    }
    case 'date': {
      const ms = cell instanceof Date ? cell.getTime() : ISO_DATE.test(text) ? Date.parse(text.length === 10 ? `${text}T00:00:00Z` : text) : NaN;
      if (!Number.isFinite(ms)) return { problem: `${JSON.stringify(text)} is not an ISO 8601 date`, expected: expectation(field) };
      return { value: Math.floor(ms / DAY_MS) };
    }
    case 'text':
    case 'identifier':
      return { value: text };
  }
}

/** What a field's values must be, as the problem list says it. */
export function expectation(field: SchemaField): string {
  const missing = field.missing === 'allowed' ? ', or empty' : '';
  switch (field.type) {
    case 'number':
      return `a number${field.unit ? ` in ${field.unit}` : ''}${field.range ? ` within [${field.range[0]}, ${field.range[1]}]` : ''}${missing}`;
    case 'category':
      return `one of ${field.values.join(', ')}${field.synonyms ? ` (or ${Object.keys(field.synonyms).join(', ')})` : ''}${missing}`;
    case 'boolean':
      return `true/false, yes/no or 1/0${missing}`;
    case 'date':
      return `an ISO 8601 date (YYYY-MM-DD)${missing}`;
    default:
      return `any text${missing}`;
  }
}

export function formatDataProblem(p: DataProblem): string {
  const where = p.row === null ? p.file : `${p.file} row ${p.row}${p.line !== undefined ? ` (line ${p.line})` : ''}`;
  return `${where}, column "${p.column}": ${p.message}${p.value !== null ? ` [value ${JSON.stringify(p.value)}]` : ''}; expected ${p.expected}`;
}

/** Throws one INVALID_ARGUMENT listing every problem, or returns the records. */
export function assertValid(schema: DataSchema, result: ValidationResult): HarmonisedRecord[] {
  if (result.problems.length === 0) return result.records;
  const n = result.problems.length;
  const shown = result.problems.slice(0, 200).map((p) => `  - ${formatDataProblem(p)}`);
  if (n > 200) shown.push(`  … and ${n - 200} more`);
  throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `local data does not match data schema ${schema.name} v${schema.version} (${n} problem${n === 1 ? '' : 's'}):\n${shown.join('\n')}`, {
    details: { field: 'data', problems: result.problems },
  });
}
