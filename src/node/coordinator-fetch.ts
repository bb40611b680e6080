// HTTP(S) to the coordinator. With a CA (or the coordinator's self-signed certificate)
// given, HTTPS trusts only that certificate — it is pinned, the system's roots are not
// consulted — so a man in the middle with any other certificate is refused. Node's global
// fetch cannot take a CA per request, so pinned requests go through undici's own fetch
// with a dispatcher that carries it. Member nodes and the CLI share this.
//
// Members' own requests (coordinatorRequest) go through undici's request API instead of
// fetch: fetch copies a typed-array body into a WHATWG stream and the answer back out of one,
// a fifth of a no-op member's CPU at 407 KB a frame (`npm run bench -- scale`); request sends
// the bytes as they are. Both pin the CA the same way.

import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { Agent, request, fetch as undiciFetch } from 'undici';
import { ConcordError, ErrorCode } from '../protocol/errors.js';

export type Fetch = typeof globalThis.fetch;

/** A fetch that trusts only `ca` (PEM) for HTTPS; the global fetch when there is none. */
export function coordinatorFetch(ca?: string | Buffer): Fetch {
  if (ca === undefined) return globalThis.fetch;
  const dispatcher = new Agent({ connect: { ca } });
  return ((input: Parameters<Fetch>[0], init?: Parameters<Fetch>[1]) =>
    undiciFetch(input as Parameters<typeof undiciFetch>[0], { ...(init as object), dispatcher } as Parameters<typeof undiciFetch>[1])) as unknown as Fetch;
}

/** An answer from the coordinator, its body read whole before the request returns: no connection is left holding an unread body. */
export interface CoordinatorAnswer {
  status: number;
  ok: boolean;
  arrayBuffer(): Promise<ArrayBuffer>;
  json(): Promise<unknown>;
}

/** A body is sent whole, or as parts one after another (a result's header, then the model it shares with nothing else, uncopied). */
export type RequestBody = Uint8Array | readonly Uint8Array[];

export type CoordinatorRequest = (url: URL, init: { method: string; headers: Record<string, string>; body?: RequestBody; signal?: AbortSignal }) => Promise<CoordinatorAnswer>;

let sharedAgent: Agent | undefined;

/** Sends one request to the coordinator, trusting only `ca` (PEM) for HTTPS when one is given. */
export function coordinatorRequest(ca?: string | Buffer): CoordinatorRequest {
  const dispatcher = ca === undefined ? (sharedAgent ??= new Agent()) : new Agent({ connect: { ca } });
  return async (url, init) => {
    let headers = init.headers;
    const whole = Array.isArray(init.body) && init.body.length === 1 ? (init.body[0] as Uint8Array) : init.body;
    let sent: Uint8Array | Readable | undefined = whole as Uint8Array | undefined;
    if (Array.isArray(whole)) {
      // Parts go out one after another with their total length announced (undici checks it), not chunked.
      const parts = whole as readonly Uint8Array[];
      headers = { ...headers, 'content-length': String(parts.reduce((n, p) => n + p.byteLength, 0)) };
      sent = Readable.from(parts, { objectMode: false });
    }
    const { statusCode, body } = await request(url, { method: init.method as 'GET', headers, ...(sent !== undefined ? { body: sent } : {}), ...(init.signal ? { signal: init.signal } : {}), dispatcher });
    const bytes = await body.arrayBuffer();
    return {
      status: statusCode,
      ok: statusCode >= 200 && statusCode < 300,
      arrayBuffer: async () => bytes,
      json: async () => JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown,
    };
  };
}

/** Reads a PEM certificate file for `field` (e.g. --ca), or says why it cannot. */
export function readCa(file: string, field = '--ca'): Buffer {
  let pem: Buffer;
  try {
    pem = readFileSync(file);
  } catch (cause) {
    throw new ConcordError(ErrorCode.NOT_FOUND, `cannot read the CA certificate ${file}: ${(cause as Error).message}`, { details: { field, received: file }, cause });
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${file} holds no PEM certificate (expected a -----BEGIN CERTIFICATE----- block)`, {
      details: { field, expected: 'a PEM certificate', received: file },
    });
  }
  return pem;
}

const TLS_ERROR = /CERT|SELF_SIGNED|TLS|SSL|ISSUER/;

/**
 * The error for a request that never got an answer: `details.reason` is `unreachable`
 * (refused, reset, timed out: worth retrying) or `tls`, a certificate the client does not
 * trust, named as such since retrying will not help and it may be an impostor.
 */
export function unreachableError(url: string, cause: unknown, field: string): ConcordError {
  for (let e: unknown = cause, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && TLS_ERROR.test(code)) {
      return new ConcordError(ErrorCode.UNAVAILABLE, `TLS: the coordinator at ${url} presented a certificate this client does not trust (${code}: ${e.message}); pass the coordinator's CA certificate with --ca or CONCORD_CA`, {
        details: { field, reason: 'tls', received: code },
        cause,
      });
    }
  }
  return new ConcordError(ErrorCode.UNAVAILABLE, `coordinator at ${url} is unreachable`, { details: { field, reason: 'unreachable' }, cause });
}
