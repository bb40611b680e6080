// CSV files (RFC 4180, data/csv.ts). Without a schema the historical contract holds: one
// label column, every other column numeric, errors naming the line of the first bad value.

import { basename } from 'node:path';
import { ConcordError, ErrorCode } from '../../protocol/errors.js';
import { csvSource, parseCsv } from '../csv.js';
import type { Cell, Table } from './table.js';
import { readFileBytes } from './table.js';
import { tabularModule } from './tabular.js';

export async function readCsvTable(path: string): Promise<Table> {
  const text = new TextDecoder().decode(await readFileBytes(path, 'CSV'));
  const records = parseCsv(text, path);
  const header = records.shift();
  if (!header) throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${path} is empty; expected a header row naming the columns`, { details: { field: 'header', expected: 'a header row', received: 'an empty file' } });
  const columns = header.fields.map((f) => f.trim());
  // Ragged records keep their fields; schema validation reports each of them with the rest.
  const rows: Cell[][] = records.map((r) => r.fields.map((f): Cell => (f.trim() === '' ? null : f)));
  const lines = records.map((r) => r.line);
  return { file: path, columns, rows, lineOf: (row) => lines[row] ?? row + 2 };
}

export const csvModule = tabularModule({
  name: 'csv',
  usage: 'csv:FILE,…',
  read: readCsvTable,
  plain: (spec) => csvSource(spec.path!, { ...(spec.label ? { label: spec.label } : {}), ...(spec.classes ? { classes: spec.classes } : {}) }).load(),
  describe: (spec) => `csv ${basename(spec.path!)}`,
});
