// Configuration documents (JSON or YAML text: run configurations, agreements, plans,
// resources files) parsed so that every problem can name its line and column. A syntax
// error names the file, line and column; a duplicate key is an error, not "the last one
// wins"; schema problems point at the offending key or value.

import { LineCounter, isMap, isPair, isScalar, isSeq, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { ErrorCode } from './errors.js';
import { type PathSegment, type Problem, problemsError, toProblems, zodProblems } from './problems.js';

export type DocumentFormat = 'json' | 'yaml';

export interface ParsedDocument {
  value: unknown;
  /** Line and column of the node at `path`, or of its nearest existing ancestor. */
  locate(path: PathSegment[], atKey: boolean): { line: number; column: number } | undefined;
}

/** The format a file name suggests: YAML for .yaml/.yml, JSON otherwise. */
export function formatOf(source: string): DocumentFormat {
  return /\.ya?ml$/i.test(source) ? 'yaml' : 'json';
}

/** Parses document text; a syntax error throws INVALID_ARGUMENT naming `source`, line and column. */
export function parseDocumentText(text: string, options: { source: string; format?: DocumentFormat }): ParsedDocument {
  const format = options.format ?? formatOf(options.source);
  const lineCounter = new LineCounter();
  if (format === 'json') {
    try {
      JSON.parse(text);
    } catch (cause) {
      throw problemsError(options.source, [jsonSyntaxProblem(text, (cause as Error).message)], ErrorCode.INVALID_ARGUMENT);
    }
  }
  // JSON is YAML 1.2, so one parser gives positions for both.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((error): Problem => {
      const { line, col } = lineCounter.linePos(error.pos[0]);
      return { path: '(root)', message: `${format === 'json' ? 'JSON' : 'YAML'} syntax: ${error.message.split('\n')[0]}`, line, column: col };
    });
    throw problemsError(options.source, problems, ErrorCode.INVALID_ARGUMENT);
  }
  return { value: doc.toJS({ maxAliasCount: 100 }), locate: (path, atKey) => locate(doc, lineCounter, path, atKey) };
}

/**
 * Parses and validates document text with a schema; every problem is listed with its
 * position. `extra` adds problems that relate one part of the document to another.
 */
export function validateDocumentText<S extends z.ZodTypeAny>(
  schema: S,
  text: string,
  options: { source: string; format?: DocumentFormat; extra?: (value: unknown) => { path: PathSegment[]; message: string; atKey?: boolean }[] },
): z.output<S> {
  const doc = parseDocumentText(text, options);
  return validateParsed(schema, doc, options.source, options.extra);
}

export function validateParsed<S extends z.ZodTypeAny>(
  schema: S,
  doc: ParsedDocument,
  source: string,
  extra?: (value: unknown) => { path: PathSegment[]; message: string; atKey?: boolean }[],
): z.output<S> {
  const result = schema.safeParse(doc.value);
  const raw = result.success ? [] : zodProblems(schema, result.error, doc.value);
  raw.push(...(extra?.(doc.value) ?? []));
  if (raw.length === 0 && result.success) return result.data;
  throw problemsError(source, toProblems(raw, doc.locate));
}

function jsonSyntaxProblem(text: string, message: string): Problem {
  const at = /at position (\d+)/.exec(message);
  const offset = at ? Number(at[1]) : text.length;
  const before = text.slice(0, offset).split('\n');
  const what = message.replace(/ in JSON at position \d+.*$/, '').replace(/^Unexpected end of JSON input$/, 'the text ends before the JSON value does');
  return { path: '(root)', message: `JSON syntax: ${what}`, line: before.length, column: before[before.length - 1]!.length + 1 };
}

function locate(doc: Document, lineCounter: LineCounter, path: PathSegment[], atKey: boolean): { line: number; column: number } | undefined {
  let node: unknown = doc.contents;
  let offset = (doc.contents as { range?: [number, number, number] } | null)?.range?.[0];
  for (const [index, segment] of path.entries()) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment));
      if (!pair) break;
      // Point at the key when the value is absent (`key:` with nothing after it).
      const target = (atKey && index === path.length - 1) || !pair.value ? pair.key : pair.value;
      offset = (target as { range?: [number, number, number] } | null)?.range?.[0] ?? (pair.key as { range?: [number, number, number] }).range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number' && node.items[segment] !== undefined) {
      node = node.items[segment];
      offset = (node as { range?: [number, number, number] }).range?.[0] ?? offset;
    } else {
      break;
    }
  }
  if (offset === undefined) return undefined;
  const { line, col } = lineCounter.linePos(offset);
  return { line, column: col };
}
