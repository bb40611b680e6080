// Splitting CSV text into records (RFC 4180: header row, comma separated, fields may be
// quoted with "" for a literal quote and may then hold commas or newlines). Apart from
// csv.ts, which reads files, because it imports nothing Node-only: the browser member at
// /join parses ratings files with it (data/ratings.ts), as Node members do.

import { ConcordError, ErrorCode } from '../protocol/errors.js';

export interface CsvRecord {
  fields: string[];
  /** 1-based line where the record starts. */
  line: number;
}

/** An INVALID_ARGUMENT error naming the file, line and column at fault. */
export function csvError(file: string, line: number, column: string | undefined, expected: string, received: unknown, message: string): ConcordError {
  return new ConcordError(ErrorCode.INVALID_ARGUMENT, `${file} line ${line}${column === undefined ? '' : `, column "${column}"`}: ${message}`, {
    details: { field: column ?? 'row', line, expected, received },
  });
}

/** Splits CSV text into records; blank lines are skipped. */
export function parseCsv(text: string, file = 'csv'): CsvRecord[] {
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let recordLine = 1;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const endRecord = (): void => {
    fields.push(field);
    if (!(fields.length === 1 && fields[0]!.trim() === '')) records.push({ fields, line: recordLine });
    fields = [];
    field = '';
  };
  for (; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else {
          quoted = false;
        }
      } else {
        if (ch === '\n') line++;
        field += ch;
      }
    } else if (ch === '"' && field.trim() === '') {
      field = '';
      quoted = true;
    } else if (ch === ',') {
      fields.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      endRecord();
      line++;
      recordLine = line;
    } else {
      field += ch;
    }
  }
  if (quoted) throw csvError(file, recordLine, undefined, 'a closing quote', 'end of file', 'a quoted field is not closed before the end of the file');
  if (field !== '' || fields.length > 0) endRecord();
  return records;
}
