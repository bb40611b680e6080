// Canonical JSON (RFC 8785, JSON Canonicalization Scheme) and the byte strings that get
// signed. Signatures cover bytes, so the coordinator, member nodes and the browser
// dashboard must all turn the same value into the same bytes; this module uses only
// what a browser also has (TextEncoder), so the page can run the very same code.
//
// RFC 8785 in short: object keys sorted by UTF-16 code units, no whitespace, numbers in
// ECMAScript's shortest round-trip form, strings escaped as JSON.stringify does.

import { ConcordError, ErrorCode } from '../protocol/errors.js';

/** Values that canonicalize: what JSON can carry, minus non-finite numbers. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue | undefined };

/**
 * The RFC 8785 serialization of `value`. Object properties whose value is `undefined` are
 * left out (as JSON.stringify does); anything that JSON cannot carry exactly (NaN,
 * Infinity, functions, class instances, `undefined` in arrays) is an INVALID_ARGUMENT
 * error naming where it sits.
 */
export function canonicalJson(value: unknown): string {
  return write(value, '');
}

function write(value: unknown, path: string): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw notJson(path, 'a finite number', String(value));
      // ECMAScript Number#toString is the number format RFC 8785 prescribes (and -0 → "0").
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) {
        return `[${value.map((item, i) => {
          if (item === undefined) throw notJson(`${path}[${i}]`, 'a JSON value', 'undefined');
          return write(item, `${path}[${i}]`);
        }).join(',')}]`;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) {
        throw notJson(path, 'a plain object', (value as object).constructor?.name ?? 'object');
      }
      const record = value as Record<string, unknown>;
      // Default sort compares UTF-16 code units, which is exactly the RFC 8785 order.
      const keys = Object.keys(record).filter((k) => record[k] !== undefined).sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${write(record[k], path ? `${path}.${k}` : k)}`).join(',')}}`;
    }
    default:
      throw notJson(path, 'a JSON value', typeof value);
  }
}

function notJson(path: string, expected: string, received: string): ConcordError {
  const field = path || '(root)';
  return new ConcordError(ErrorCode.INVALID_ARGUMENT, `${field}: expected ${expected}, received ${received}; only JSON values can be signed or hashed`, {
    details: { field, expected, received },
  });
}

/** UTF-8 bytes of the canonical JSON of `value`. */
export function canonicalBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(canonicalJson(value));
}

/**
 * Domains keep a signature made for one purpose from being accepted for another (a plan
 * approval can never pass as a request signature, whatever its fields).
 */
export const SigningDomain = {
  REQUEST: 'concord/request/v1',
  PLAN_APPROVAL: 'concord/plan-approval/v1',
  QUERY_APPROVAL: 'concord/query-approval/v1',
  AUDIT_ENTRY: 'concord/audit-entry/v1',
  AGREEMENT: 'concord/agreement/v1',
} as const;
export type SigningDomain = (typeof SigningDomain)[keyof typeof SigningDomain];

/** The bytes a signature covers: UTF-8 of `domain + "\n" + canonicalJson(value)`. */
export function signingBytes(domain: SigningDomain, value: unknown): Uint8Array {
  return new TextEncoder().encode(`${domain}\n${canonicalJson(value)}`);
}
