// Shared CLI plumbing that every command registration needs and that costs nothing to load:
// the coordinator's address, option parsers, lazily loaded actions, reading the files a
// person names, and reporting errors with their exit code. Talking to the coordinator is
// in operator-api.ts, loaded only by the actions that do.

import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { readFile } from 'node:fs/promises';
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

/** The text of a file a person named with `field` (e.g. --config); a missing one is NOT_FOUND. */
export async function readInputFile(file: string, field: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (cause) {
    throw new ConcordError(ErrorCode.NOT_FOUND, `cannot read ${field} ${file}: ${(cause as Error).message}`, { details: { field, received: file }, cause });
  }
}

/** A JSON file a person named with `field`. */
export async function readJsonFile(file: string, field: string): Promise<unknown> {
  return parseJson(await readInputFile(file, field), file, field);
}

/** JSON text read from `file`; text that is not JSON is INVALID_ARGUMENT, not a crash. */
export function parseJson(text: string, file: string, field: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${field} ${file} is not JSON: ${(cause as Error).message}`, { details: { field, expected: 'JSON', received: file }, cause });
  }
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
  else process.stderr.write(`concord: ${error.message}${error.details.field ? ` [${error.details.field}]` : ''} (${error.code})\n`);
  process.exit(exitCodeOf(error.code));
}
