// Parquet files through hyparquet (a maintained pure-JS reader): flat schemas of numbers,
// strings, booleans, dates and nulls, read whole into a Table.

import { parquetMetadata, parquetReadObjects, parquetSchema } from 'hyparquet';
import { ConcordError, ErrorCode } from '../../protocol/errors.js';
import type { Cell, Table } from './table.js';
import { readFileBytes } from './table.js';
import { tabularModule } from './tabular.js';

export async function readParquetTable(path: string): Promise<Table> {
  const bytes = await readFileBytes(path, 'Parquet');
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let columns: string[];
  let objects: Record<string, unknown>[];
  try {
    const metadata = parquetMetadata(file);
    const tree = parquetSchema(metadata);
    const nested = tree.children.filter((c) => c.children.length > 0).map((c) => c.element.name);
    if (nested.length > 0) {
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${path}: nested Parquet columns are not tabular data: ${nested.join(', ')}`, { details: { field: 'columns', expected: 'flat columns', received: nested } });
    }
    columns = tree.children.map((c) => c.element.name);
    objects = (await parquetReadObjects({ file, metadata })) as Record<string, unknown>[];
  } catch (cause) {
    if (cause instanceof ConcordError) throw cause;
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${path} is not a readable Parquet file: ${(cause as Error).message}`, { details: { field: 'path', expected: 'a Parquet file', received: path }, cause });
  }
  const rows = objects.map((o) => columns.map((c) => toCell(o[c])));
  return { file: path, columns, rows, lineOf: (row) => row + 1 };
}

function toCell(value: unknown): Cell {
  if (value === undefined || value === null) return null;
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean' || typeof value === 'bigint' || value instanceof Date) return value;
  return JSON.stringify(value);
}

export const parquetModule = tabularModule({ name: 'parquet', usage: 'parquet:FILE,…', read: readParquetTable });
