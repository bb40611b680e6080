// Tabular data as every file source reads it: named columns and rows of cells, whatever the
// file format. A table becomes a Dataset in one of two ways: plainly (one label column, every
// other column numeric — the csv source's historical contract), or through the consortium
// data schema (data/schema/), which finds columns by name, converts units and encodes
// categories (`schema=FILE` in the spec).

import { readFile } from 'node:fs/promises';
import { ConcordError, ErrorCode } from '../../protocol/errors.js';
import type { Dataset } from '../dataset.js';

export type Cell = string | number | boolean | bigint | Date | null;

export interface Table {
  /** The file, for messages. */
  file: string;
  columns: string[];
  rows: Cell[][];
  /** Where row i is, for messages: the CSV line of a record, else its 1-based row number. */
  lineOf(row: number): number;
}

export async function readFileBytes(path: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (cause) {
    throw new ConcordError(ErrorCode.NOT_FOUND, `cannot read ${what} file ${path}: ${(cause as Error).message}`, { details: { field: 'path', expected: `a readable ${what} file`, received: path }, cause });
  }
}

function tableError(table: Table, row: number | null, column: string | undefined, expected: string, received: unknown, message: string): ConcordError {
  const where = row === null ? '' : ` row ${row + 1}`;
  return new ConcordError(ErrorCode.INVALID_ARGUMENT, `${table.file}${where}${column === undefined ? '' : `, column "${column}"`}: ${message}`, {
    details: { field: column ?? 'row', ...(row === null ? {} : { row: row + 1 }), expected, received },
  });
}

/** A cell as a finite number, or undefined. Strings must be a whole number literal. */
export function numericCell(cell: Cell): number | undefined {
  if (typeof cell === 'number') return Number.isFinite(cell) ? cell : undefined;
  if (typeof cell === 'bigint') return Number.isSafeInteger(Number(cell)) ? Number(cell) : undefined;
  if (typeof cell === 'string' && cell.trim() !== '') {
    const v = Number(cell);
    return Number.isFinite(v) ? v : undefined;
  }
  return undefined;
}

/** The text of a cell (trimmed), '' for null. */
export function cellText(cell: Cell): string {
  if (cell === null) return '';
  if (cell instanceof Date) return cell.toISOString();
  return String(cell).trim();
}

/** Label column plus numeric features, every other column a feature; the first bad value throws. */
export function plainDataset(table: Table, options: { label?: string; classes?: string[] } = {}): Dataset {
  const labelName = options.label ?? 'label';
  const labelColumn = table.columns.indexOf(labelName);
  if (labelColumn < 0) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${table.file} has no label column "${labelName}"; its columns are ${table.columns.map((n) => `"${n}"`).join(', ')}`, {
      details: { field: 'label', expected: `one of ${table.columns.join(', ')}`, received: labelName },
    });
  }
  const features = table.columns.map((_, c) => c).filter((c) => c !== labelColumn);
  const x = new Float32Array(table.rows.length * features.length);
  const labels: string[] = [];
  table.rows.forEach((row, r) => {
    features.forEach((c, j) => {
      const v = numericCell(row[c] ?? null);
      if (v === undefined) throw tableError(table, r, table.columns[c], 'a finite number', row[c], `expected a finite number, found ${JSON.stringify(row[c] ?? null)}`);
      x[r * features.length + j] = v;
    });
    const label = cellText(row[labelColumn] ?? null);
    if (label === '') throw tableError(table, r, labelName, 'a label', label, 'the label is empty');
    labels.push(label);
  });
  const classNames = options.classes ?? sortedLabels(labels);
  const index = new Map(classNames.map((name, i) => [name, i]));
  const y = new Int32Array(labels.length);
  labels.forEach((label, r) => {
    const i = index.get(label);
    if (i === undefined) throw tableError(table, r, labelName, `one of ${classNames.join(', ')}`, label, `label ${JSON.stringify(label)} is not one of the agreed classes ${classNames.join(', ')}`);
    y[r] = i;
  });
  return { x, y, inputShape: [features.length], classes: classNames.length };
}

function sortedLabels(labels: string[]): string[] {
  const distinct = [...new Set(labels)];
  if (distinct.every((l) => numericCell(l) !== undefined)) return distinct.sort((a, b) => Number(a) - Number(b));
  return distinct.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
