// Arrow IPC files (file or stream format, e.g. Feather v2) through apache-arrow: each column
// read by name into a Table; dictionary-encoded strings arrive as their values.

import { tableFromIPC } from 'apache-arrow';
import { ConcordError, ErrorCode } from '../../protocol/errors.js';
import type { Cell, Table } from './table.js';
import { readFileBytes } from './table.js';
import { tabularModule } from './tabular.js';

export async function readArrowTable(path: string): Promise<Table> {
  const bytes = await readFileBytes(path, 'Arrow');
  let arrow;
  try {
    arrow = tableFromIPC(bytes);
  } catch (cause) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${path} is not a readable Arrow IPC file: ${(cause as Error).message}`, { details: { field: 'path', expected: 'an Arrow IPC file', received: path }, cause });
  }
  const columns = arrow.schema.fields.map((f) => f.name);
  const vectors = columns.map((_, i) => arrow.getChildAt(i)!);
  const rows: Cell[][] = [];
  for (let r = 0; r < arrow.numRows; r++) rows.push(vectors.map((v) => toCell(v.get(r))));
  return { file: path, columns, rows, lineOf: (row) => row + 1 };
}

function toCell(value: unknown): Cell {
  if (value === undefined || value === null) return null;
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean' || typeof value === 'bigint' || value instanceof Date) return value;
  return String(value);
}

export const arrowModule = tabularModule({ name: 'arrow', usage: 'arrow:FILE,…', read: readArrowTable });
