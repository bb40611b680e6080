// Talking to the coordinator's operator API from the CLI: the operator token, the pinned
// CA certificate (--ca) and JSON or frame requests. Loaded by the actions that need it
// (it brings undici and the wire schemas), never by command registration.

import { readFileSync } from 'node:fs';
import { coordinatorFetch, readCa, unreachableError, type Fetch } from '../node/coordinator-fetch.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { PROTOCOL_HEADER, PROTOCOL_VERSION } from '../protocol/messages.js';

/** --token, then $CONCORD_OPERATOR_TOKEN, then the file the coordinator wrote beside its database. */
export function operatorToken(flag?: string, tokenFile = '.concord/operator-token'): string {
  const token = flag ?? process.env.CONCORD_OPERATOR_TOKEN;
  if (token) return token;
  try {
    return readFileSync(tokenFile, 'utf8').trim();
  } catch {
    throw new ConcordError(ErrorCode.UNAUTHENTICATED, `no operator token: pass --token, set CONCORD_OPERATOR_TOKEN, or run next to the coordinator's ${tokenFile}`, {
      details: { field: '--token' },
    });
  }
}

let pinnedCa: string | undefined;
let pinnedFetch: Fetch | undefined;

/** Pins the coordinator's CA certificate (--ca) for this process's requests; $CONCORD_CA otherwise. */
export function useCa(file: string | undefined): void {
  pinnedCa = file;
  pinnedFetch = undefined;
}

/** fetch for the coordinator, trusting only the pinned CA when one is given. */
export function caFetch(): Fetch {
  const file = pinnedCa ?? process.env.CONCORD_CA;
  if (!file) return globalThis.fetch;
  pinnedFetch ??= coordinatorFetch(readCa(file, pinnedCa ? '--ca' : 'CONCORD_CA'));
  return pinnedFetch;
}

/** Calls the coordinator's operator API and returns parsed JSON (or bytes for frames). */
export async function operatorRequest<T>(url: string, token: string, method: string, path: string, body?: unknown): Promise<T> {
  let response: Response;
  const fetch = caFetch();
  try {
    response = await fetch(url.replace(/\/+$/, '') + path, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        [PROTOCOL_HEADER]: String(PROTOCOL_VERSION),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch (cause) {
    throw unreachableError(url, cause, '--coordinator');
  }
  if (!response.ok) {
    const parsed = (await response.json().catch(() => ({}))) as { error?: { code?: ErrorCode; message?: string; details?: Record<string, unknown> } };
    throw new ConcordError(parsed.error?.code ?? ErrorCode.INTERNAL, parsed.error?.message ?? `HTTP ${response.status}`, { details: parsed.error?.details ?? {} });
  }
  if (response.headers.get('content-type')?.includes('application/json')) return (await response.json()) as T;
  return new Uint8Array(await response.arrayBuffer()) as T;
}
