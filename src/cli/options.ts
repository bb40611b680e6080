// Shared CLI plumbing that every command registration needs and that costs nothing to load:
// the coordinator's address, option parsers, lazily loaded actions, reading the files a
// person names, and reporting errors with their exit code. Talking to the coordinator is
// in operator-api.ts, loaded only by the actions that do.

import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { readFile } from 'node:fs/promises';
import type { ZodTypeAny, output } from 'zod';
import { DEFAULT_HOST, DEFAULT_PORT } from '../coordinator/defaults.js';
import { ConcordError, ErrorCode, toConcordError } from '../protocol/errors.js';
import { exitCodeOf } from './exit-codes.js';

export const DEFAULT_COORDINATOR = `http://${DEFAULT_HOST}:${DEFAULT_PORT}`;

export function coordinatorUrl(flag?: string): string {
  return flag ?? process.env.CONCORD_COORDINATOR ?? DEFAULT_COORDINATOR;
}

export function parseIntOption(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n)) throw new InvalidArgumentError(`${name} must be an integer, got ${JSON.stringify(value)}`);
    return n;
  };
}

export function parseNumberOption(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number, got ${JSON.stringify(value)}`);
    return n;
  };
}

/** A JSON object given on the command line (e.g. a strategy's options). */
export function parseJsonObjectOption(name: string) {
  return (value: string): Record<string, unknown> => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch (error) {
      throw new InvalidArgumentError(`${name} must be a JSON object: ${(error as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new InvalidArgumentError(`${name} must be a JSON object, got ${JSON.stringify(value)}`);
    return parsed as Record<string, unknown>;
  };
}

type Actions<M> = { [K in keyof M]: M[K] extends (...args: never[]) => unknown ? K : never }[keyof M];

/**
 * The action `name` of module `load()`, imported only when the command runs: registering
 * every command (and so --help) then loads none of what the actions need (TF.js, SQLite,
 * Fastify, HiGHS …). Whatever the action throws is reported by fail(), as JSON when the
 * command was given --json.
 */
export function lazyAction<M>(load: () => Promise<M>, name: Actions<M>): (...args: unknown[]) => Promise<void> {
  return async (...args) => {
    const command = args.at(-1) as Command;
    try {
      const action = (await load())[name] as (...args: unknown[]) => unknown;
      await action(...args);
    } catch (error) {
      fail(error, command.opts().json === true);
    }
  };
}

/** The text of a file a person named with `field` (e.g. --config); a missing one is NOT_FOUND, said in words. */
export async function readInputFile(file: string, field: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'there is no such file' : code === 'EISDIR' ? 'it is a directory, not a file' : code === 'EACCES' ? 'permission denied' : (cause as Error).message;
    throw new ConcordError(ErrorCode.NOT_FOUND, `cannot read ${field} ${file}: ${why}`, { details: { field, received: file }, cause });
  }
}

/** A JSON file a person named with `field`; a syntax error names the file, line and column. */
export async function readJsonFile(file: string, field: string): Promise<unknown> {
  return parseJson(await readInputFile(file, field), file);
}

/** JSON text read from `file`; text that is not JSON is INVALID_ARGUMENT naming the line and column, not a crash. */
export async function parseJson(text: string, file: string): Promise<unknown> {
  const { parseDocumentText } = await import('../protocol/document.js');
  return parseDocumentText(text, { source: file, format: 'json' }).value;
}

/**
 * A configuration file (JSON, or YAML by its extension) validated by `schema`: every
 * problem at once, each with its line and column. `complete` adds what the file need not say.
 */
export async function readConfigFile<S extends ZodTypeAny>(file: string, field: string, schema: S, complete: (value: unknown) => unknown = (v) => v): Promise<output<S>> {
  const text = await readInputFile(file, field);
  const { parseDocumentText, validateParsed } = await import('../protocol/document.js');
  const doc = parseDocumentText(text, { source: file });
  return validateParsed(schema, { ...doc, value: complete(doc.value) }, file);
}

/**
 * Node's own I/O errors that no module turned into a ConcordError: about a file or port a
 * person named, not bugs, so they get the codes of a missing file, a busy port or an I/O error.
 */
function fromSystemError(raw: unknown): unknown {
  const e = raw as NodeJS.ErrnoException;
  if (!(raw instanceof Error) || typeof e.code !== 'string' || typeof e.syscall !== 'string') return raw;
  const code = e.code === 'ENOENT' || e.code === 'ENOTDIR' ? ErrorCode.NOT_FOUND : e.code === 'EADDRINUSE' || e.code === 'EADDRNOTAVAIL' ? ErrorCode.UNAVAILABLE : ErrorCode.STORAGE;
  return new ConcordError(code, e.message, { details: { ...(e.path ? { received: e.path } : {}), reason: e.code }, cause: raw });
}

/** Prints an error the way a person (or, with --json, a program) wants it, and exits with its code (exit-codes.ts). */
export function fail(raw: unknown, json: boolean): never {
  const error = toConcordError(fromSystemError(raw));
  if (json) process.stdout.write(JSON.stringify({ error: error.toJSON() }) + '\n');
  else {
    // A list of problems already names each field; a single refusal gets its field appended.
    const field = error.details.field && !Array.isArray(error.details.problems) ? ` [${error.details.field}]` : '';
    process.stderr.write(`concord: ${error.message}${field} (${error.code})\n`);
  }
  process.exit(exitCodeOf(error.code));
}
