// Tabular data from a CSV file (RFC 4180: header row, comma separated, fields may be
// quoted with "" for a literal quote and may then hold commas or newlines). One column
// is the label; every other column must be numeric. Labels may be strings: they become
// class indices in sorted order, or in the order of an agreed class list so that every
// member of a consortium numbers classes the same way even if it lacks some of them.

import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { csvError, parseCsv } from './csv-text.js';
import type { Dataset, DatasetSource } from './dataset.js';

export { parseCsv } from './csv-text.js';

export interface CsvOptions {
  /** Name of the label column. Default 'label'. */
  label?: string;
  /** The agreed label values, in class-index order. Default: the file's distinct labels, sorted (numerically if all are numbers). */
  classes?: string[];
  /** Shown in error messages. Default 'csv'. */
  file?: string;
}

export interface CsvDataset {
  dataset: Dataset;
  /** Header names of the feature columns, in feature order. */
  features: string[];
  /** Label value of each class index. */
  classNames: string[];
}

const isNumeric = (s: string): boolean => s.trim() !== '' && Number.isFinite(Number(s));

/** Turns CSV text into a Dataset; errors name the line and column of the first bad value. */
export function readCsvDataset(text: string, options: CsvOptions = {}): CsvDataset {
  const file = options.file ?? 'csv';
  const labelName = options.label ?? 'label';
  const records = parseCsv(text, file);
  const header = records.shift();
  if (!header) throw csvError(file, 1, undefined, 'a header row', 'an empty file', 'the file is empty; expected a header row naming the columns');
  const names = header.fields.map((f) => f.trim());
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) throw csvError(file, header.line, name, 'unique column names', name, `column "${name}" appears twice in the header`);
    seen.add(name);
  }
  const labelColumn = names.indexOf(labelName);
  if (labelColumn < 0) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${file} has no label column "${labelName}"; its columns are ${names.map((n) => `"${n}"`).join(', ')}`, {
      details: { field: 'label', expected: `one of ${names.join(', ')}`, received: labelName },
    });
  }
  const featureColumns = names.map((_, c) => c).filter((c) => c !== labelColumn);
  const x = new Float32Array(records.length * featureColumns.length);
  const rawLabels: string[] = [];
  records.forEach((record, row) => {
    if (record.fields.length !== names.length) {
      throw csvError(file, record.line, undefined, `${names.length} fields`, record.fields.length, `expected ${names.length} fields as in the header, found ${record.fields.length}`);
    }
    featureColumns.forEach((c, j) => {
      const raw = record.fields[c]!;
      if (!isNumeric(raw)) throw csvError(file, record.line, names[c], 'a finite number', raw, `expected a finite number, found ${JSON.stringify(raw)}`);
      x[row * featureColumns.length + j] = Number(raw);
    });
    const label = record.fields[labelColumn]!.trim();
    if (label === '') throw csvError(file, record.line, labelName, 'a label', label, 'the label is empty');
    rawLabels.push(label);
  });

  const classNames = options.classes ?? sortedLabels(rawLabels);
  const classIndex = new Map(classNames.map((name, i) => [name, i]));
  const y = new Int32Array(rawLabels.length);
  rawLabels.forEach((label, row) => {
    const index = classIndex.get(label);
    if (index === undefined) {
      throw csvError(file, records[row]!.line, labelName, `one of ${classNames.join(', ')}`, label, `label ${JSON.stringify(label)} is not one of the agreed classes ${classNames.join(', ')}`);
    }
    y[row] = index;
  });
  return {
    dataset: { x, y, inputShape: [featureColumns.length], classes: classNames.length },
    features: featureColumns.map((c) => names[c]!),
    classNames,
  };
}

function sortedLabels(labels: string[]): string[] {
  const distinct = [...new Set(labels)];
  if (distinct.every(isNumeric)) return distinct.sort((a, b) => Number(a) - Number(b));
  return distinct.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

export function csvSource(path: string, options: Omit<CsvOptions, 'file'> = {}): DatasetSource {
  return {
    name: `csv ${basename(path)}`,
    async load() {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (cause) {
        throw new ConcordError(ErrorCode.NOT_FOUND, `cannot read CSV file ${path}: ${(cause as Error).message}`, { details: { field: 'path', expected: 'a readable CSV file', received: path }, cause });
      }
      return readCsvDataset(text, { ...options, file: path }).dataset;
    },
  };
}
