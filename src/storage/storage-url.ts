// Storage URLs: which backend a --db value names, and how to show one without its password.

import { ConcordError, ErrorCode } from '../protocol/errors.js';

export type StorageTarget = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

const EXPECTED = 'sqlite:PATH, a file path, or postgres://…';

export function parseStorageUrl(url: string): StorageTarget {
  const trimmed = url.trim();
  if (/^postgres(ql)?:\/\//i.test(trimmed)) return { kind: 'postgres', url: trimmed };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) && !/^sqlite:/i.test(trimmed)) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `unsupported storage URL scheme in ${trimmed}; expected ${EXPECTED}`, {
      details: { field: 'db', expected: EXPECTED, received: trimmed },
    });
  }
  // sqlite:///abs/path and sqlite://rel/path are accepted too, as other tools write them.
  const path = /^sqlite:/i.test(trimmed) ? trimmed.slice('sqlite:'.length).replace(/^\/\//, '') : trimmed;
  if (path === '') {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `storage URL ${JSON.stringify(url)} names no database file; expected ${EXPECTED}`, {
      details: { field: 'db', expected: EXPECTED, received: url },
    });
  }
  return { kind: 'sqlite', path };
}

/** A storage URL fit for messages: a PostgreSQL password is masked. */
export function redactPassword(url: string): string {
  return url.replace(/^([^:]+:\/\/[^:/@]+):[^@]*@/, '$1:***@');
}
