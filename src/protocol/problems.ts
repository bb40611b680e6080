// Validation problems as data. A user's input (a run configuration, an agreement, a plan, a
// resources file, a data spec) is checked as a whole and every problem is reported at once,
// each with where it is (`train.epochs`, `members[1].efficiency`), what was expected and what
// was received, and for a misspelled key or value the closest valid one ("did you mean
// `train.epochs`?"). Schemas refuse unknown keys; this module says which key was meant.

import { distance } from 'fastest-levenshtein';
import { z } from 'zod';
import { ConcordError, ErrorCode } from './errors.js';

export type PathSegment = string | number;

export interface Problem {
  /** Dotted path of the field, e.g. `train.epochs` or `members[1].name`; `(root)` for the whole input. */
  path: string;
  message: string;
  /** 1-based position in the source text, when the input came from a file. */
  line?: number;
  column?: number;
}

/** A problem before its path is formatted and its position looked up. */
export interface RawProblem {
  path: PathSegment[];
  message: string;
  /** Point at the key rather than its value (unknown keys). */
  atKey?: boolean;
}

export function formatPath(path: readonly PathSegment[]): string {
  if (path.length === 0) return '(root)';
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

/** The known name closest to `name`, when it is close enough to be a likely typo. */
export function closestName(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  const lower = name.toLowerCase();
  for (const candidate of known) {
    const d = distance(lower, candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  if (best === undefined) return undefined;
  // A typo is a few edits of a name of some length; "a" is not a misspelling of "seed".
  const limit = Math.max(1, Math.min(3, Math.ceil(Math.max(name.length, best.length) / 3)));
  const prefix = best.toLowerCase().startsWith(lower) || lower.startsWith(best.toLowerCase());
  return bestDistance <= limit || (prefix && Math.min(lower.length, best.length) >= 3) ? best : undefined;
}

/** "did you mean `train.epochs`?" for an unknown key at `path`, or the list of known keys. */
export function unknownKeyMessage(key: string, path: readonly PathSegment[], known: readonly string[]): string {
  const match = closestName(key, known);
  const what = `unknown field ${JSON.stringify(key)}`;
  if (match !== undefined) return `${what}; did you mean \`${formatPath([...path, match])}\`?`;
  return known.length > 0 ? `${what}; known fields here: ${known.join(', ')}` : `${what}; nothing may be given here`;
}

// ---- walking a schema along a path ------------------------------------------------------

/** The schema under wrappers that do not change the shape of the value (default, optional, refinements). */
function unwrap(schema: z.ZodTypeAny): z.ZodTypeAny {
  for (;;) {
    if (schema instanceof z.ZodDefault || schema instanceof z.ZodCatch || schema instanceof z.ZodReadonly) schema = schema._def.innerType;
    else if (schema instanceof z.ZodOptional || schema instanceof z.ZodNullable) schema = schema.unwrap();
    else if (schema instanceof z.ZodEffects) schema = schema.innerType();
    else if (schema instanceof z.ZodPipeline) schema = schema._def.in;
    else if (schema instanceof z.ZodBranded) schema = schema.unwrap();
    else if (schema instanceof z.ZodLazy) schema = schema.schema;
    else return schema;
  }
}

/** Of a union, the object option that `value` was meant for (by discriminator, else by shared keys). */
function optionFor(schema: z.ZodTypeAny, value: unknown): z.ZodTypeAny {
  const s = unwrap(schema);
  if (s instanceof z.ZodDiscriminatedUnion) {
    const tag = isRecord(value) ? value[s.discriminator] : undefined;
    return (s.optionsMap.get(tag as z.Primitive) as z.ZodTypeAny | undefined) ?? s;
  }
  if (s instanceof z.ZodUnion) {
    const options = (s.options as z.ZodTypeAny[]).map(unwrap);
    const objects = options.filter((o): o is z.AnyZodObject => o instanceof z.ZodObject);
    if (objects.length === 0 || !isRecord(value)) return s;
    const keys = Object.keys(value);
    return objects.reduce((best, o) => (keys.filter((k) => k in o.shape).length > keys.filter((k) => k in best.shape).length ? o : best));
  }
  return s;
}

function childOf(schema: z.ZodTypeAny, segment: PathSegment, value: unknown): z.ZodTypeAny | undefined {
  const s = unwrap(optionFor(schema, value));
  if (s instanceof z.ZodObject) return (s.shape as Record<string, z.ZodTypeAny>)[String(segment)] ?? (s._def.catchall instanceof z.ZodNever ? undefined : s._def.catchall);
  if (s instanceof z.ZodArray) return s.element as z.ZodTypeAny;
  if (s instanceof z.ZodRecord) return s.valueSchema as z.ZodTypeAny;
  if (s instanceof z.ZodTuple) return (s.items as z.ZodTypeAny[])[Number(segment)];
  if (s instanceof z.ZodIntersection) return childOf(s._def.left, segment, value) ?? childOf(s._def.right, segment, value);
  return undefined;
}

/** The schema that validates the value at `path` of `input`, when it can be told. */
export function schemaAt(schema: z.ZodTypeAny, path: readonly PathSegment[], input: unknown): z.ZodTypeAny | undefined {
  let current: z.ZodTypeAny | undefined = schema;
  let value = input;
  for (const segment of path) {
    if (!current) return undefined;
    current = childOf(current, segment, value);
    value = isRecord(value) || Array.isArray(value) ? (value as Record<PathSegment, unknown>)[segment] : undefined;
  }
  return current ? optionFor(current, value) : undefined;
}

/** The keys an object schema at `path` knows. */
export function knownKeysAt(schema: z.ZodTypeAny, path: readonly PathSegment[], input: unknown): string[] {
  const s = schemaAt(schema, path, input);
  const object = s ? unwrap(s) : undefined;
  return object instanceof z.ZodObject ? Object.keys(object.shape) : [];
}

// ---- zod issues to problems ---------------------------------------------------------------

export function valueAt(input: unknown, path: readonly PathSegment[]): unknown {
  let value = input;
  for (const segment of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PathSegment, unknown>)[segment];
  }
  return value;
}

/** A value as a person reads it in a message: strings quoted, long values cut. */
export function shortValue(value: unknown): string {
  const text = value === undefined ? 'nothing' : JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

const lowerFirst = (s: string): string => (s.length > 0 ? s[0]!.toLowerCase() + s.slice(1) : s);

/** One zod issue as problems: unknown keys one each, with the key that was probably meant. */
export function describeIssue(issue: z.ZodIssue, schema: z.ZodTypeAny | undefined, input: unknown, prefix: readonly PathSegment[] = []): RawProblem[] {
  const path = [...prefix, ...issue.path];
  switch (issue.code) {
    case z.ZodIssueCode.unrecognized_keys: {
      const known = schema ? knownKeysAt(schema, issue.path, input) : [];
      return issue.keys.map((key) => ({ path: [...path, key], message: unknownKeyMessage(key, path, known), atKey: true }));
    }
    case z.ZodIssueCode.invalid_type: {
      // A schema's own wording ("expected a number >= 0 (watts)") says more than zod's default.
      const custom = issue.message !== 'Required' && issue.message !== `Expected ${issue.expected}, received ${issue.received}` ? lowerFirst(issue.message) : undefined;
      if (issue.received === 'undefined') return [{ path, message: `required field is missing; ${custom ?? `expected ${issue.expected}`}` }];
      return [{ path, message: `${custom ?? `expected ${issue.expected}`}, received ${issue.received} ${shortValue(valueAt(input, issue.path))}` }];
    }
    case z.ZodIssueCode.invalid_enum_value:
      return [{ path, message: choiceMessage(issue.options, issue.received) }];
    case z.ZodIssueCode.invalid_union_discriminator:
      return [{ path, message: choiceMessage(issue.options, valueAt(input, issue.path)) }];
    case z.ZodIssueCode.invalid_literal:
      return [{ path, message: `expected ${JSON.stringify(issue.expected)}, received ${shortValue(issue.received)}` }];
    case z.ZodIssueCode.too_small:
    case z.ZodIssueCode.too_big:
    case z.ZodIssueCode.not_multiple_of:
    case z.ZodIssueCode.invalid_string:
      return [{ path, message: `${lowerFirst(issue.message)}, received ${shortValue(valueAt(input, issue.path))}` }];
    case z.ZodIssueCode.invalid_union: {
      // The most specific explanation: the union member whose issues go deepest.
      const nested = issue.unionErrors.map((e) => e.issues).sort((a, b) => depth(b) - depth(a))[0];
      if (nested && depth(nested) > issue.path.length) return nested.flatMap((i) => describeIssue(i, schema, input, prefix));
      return [{ path, message: lowerFirst(issue.message) }];
    }
    default:
      return [{ path, message: lowerFirst(issue.message) }];
  }
}

const depth = (issues: z.ZodIssue[]): number => Math.max(0, ...issues.map((i) => i.path.length));

function choiceMessage(options: readonly (string | number | boolean | null | undefined | symbol | bigint)[], received: unknown): string {
  const names = options.map((o) => String(o));
  const match = typeof received === 'string' ? closestName(received, names) : undefined;
  const list = options.map((o) => JSON.stringify(o)).join(', ');
  return `expected one of ${list}, received ${shortValue(received)}${match !== undefined ? `; did you mean ${JSON.stringify(match)}?` : ''}`;
}

/** Every problem of a failed parse, deduplicated, in the order they were found. */
export function zodProblems(schema: z.ZodTypeAny, error: z.ZodError, input: unknown, prefix: readonly PathSegment[] = []): RawProblem[] {
  const out: RawProblem[] = [];
  const seen = new Set<string>();
  for (const issue of error.issues) {
    for (const p of describeIssue(issue, schema, input, prefix)) {
      const key = `${formatPath(p.path)}\u0000${p.message}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(p);
    }
  }
  return out;
}

export function toProblems(raw: readonly RawProblem[], locate?: (path: PathSegment[], atKey: boolean) => { line: number; column: number } | undefined): Problem[] {
  const problems = raw.map((p) => ({ path: formatPath(p.path), message: p.message, ...locate?.(p.path, p.atKey === true) }));
  if (locate) problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
  return problems;
}

/** One line per problem, with its position when known. */
export function formatProblems(problems: readonly Problem[], indent = '  '): string {
  return problems.map((p) => `${indent}${p.line === undefined ? '' : `line ${p.line}, column ${p.column}: `}${p.path}: ${p.message}`).join('\n');
}

/**
 * The error that reports a list of problems of `what` (e.g. "run config", a file name). One
 * problem stays on one line; several are listed one per line.
 */
export function problemsError(what: string, problems: readonly Problem[], code: ErrorCode = ErrorCode.INVALID_ARGUMENT): ConcordError {
  const first = problems[0];
  const message =
    problems.length === 1 && first!.line === undefined
      ? `${what}: ${first!.path}: ${first!.message}`
      : `${what} has ${problems.length === 1 ? '1 problem' : `${problems.length} problems`}:\n${formatProblems(problems)}`;
  return new ConcordError(code, message, { details: { field: first?.path ?? '(root)', problems: [...problems] } });
}

export type Checked<T> = { ok: true; value: T } | { ok: false; problems: Problem[] };

/** Parses with a schema; problems come back as data, each path under `prefix`. */
export function check<S extends z.ZodTypeAny>(schema: S, input: unknown, prefix: readonly PathSegment[] = []): Checked<z.output<S>> {
  const result = schema.safeParse(input);
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, problems: toProblems(zodProblems(schema, result.error, input, prefix)) };
}

/** Parses with a schema or throws one error listing every problem. */
export function parseWith<S extends z.ZodTypeAny>(schema: S, input: unknown, what: string, options: { code?: ErrorCode; prefix?: readonly PathSegment[] } = {}): z.output<S> {
  const checked = check(schema, input, options.prefix ?? []);
  if (checked.ok) return checked.value;
  throw problemsError(what, checked.problems, options.code);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
