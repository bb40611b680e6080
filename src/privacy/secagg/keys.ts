// Key agreement and authenticated encryption for SecAgg (Bonawitz et al. 2017, §4): X25519
// (RFC 7748) gives each pair of members a shared secret from their published keys alone;
// HKDF-SHA256 turns it into an AES-256-GCM key, under which one member's secret shares travel
// to another through the server. GCM authenticates the ciphertext and its associated data
// (sender, recipient), so a server that reroutes, alters or replays a share is detected.
// Keys are raw 32-byte strings; the curve and ciphers come from SecAggPrimitives
// (primitives.ts), node:crypto in Node and @noble in browsers.

import { ConcordError, ErrorCode } from '../../protocol/errors.js';
import { GCM_IV_BYTES, GCM_TAG_BYTES, KEY_BYTES, type SecAggPrimitives, type X25519KeyPair, checkPublicKey } from './primitives.js';

export { KEY_BYTES, checkPublicKey };
export type KeyPair = X25519KeyPair;
export const SHARE_INFO = 'concord-secagg-share';

/** The AES-256-GCM key for shares between a pair: HKDF-SHA256(shared secret, round seed). */
export function shareEncryptionKey(primitives: SecAggPrimitives, sharedSecret: Uint8Array, roundSeed: Uint8Array): Uint8Array {
  return primitives.hkdf(sharedSecret, roundSeed, SHARE_INFO, KEY_BYTES);
}

/** iv ‖ ciphertext ‖ tag, with a fresh random 96-bit IV. */
export function encrypt(primitives: SecAggPrimitives, key: Uint8Array, plaintext: Uint8Array, associatedData: Uint8Array): Uint8Array {
  return primitives.seal(key, plaintext, associatedData);
}

/** Inverse of encrypt; a wrong key, altered bytes or other associated data are refused. */
export function decrypt(primitives: SecAggPrimitives, key: Uint8Array, sealed: Uint8Array, associatedData: Uint8Array, field = 'ciphertext'): Uint8Array {
  if (sealed.length < GCM_IV_BYTES + GCM_TAG_BYTES) {
    throw new ConcordError(ErrorCode.INVALID_MESSAGE, `${field} holds ${sealed.length} bytes; at least ${GCM_IV_BYTES + GCM_TAG_BYTES} are needed`, {
      details: { field, expected: `>= ${GCM_IV_BYTES + GCM_TAG_BYTES} bytes`, received: sealed.length },
    });
  }
  try {
    return primitives.open(key, sealed, associatedData);
  } catch (cause) {
    throw new ConcordError(ErrorCode.INVALID_MESSAGE, `${field} does not authenticate: wrong key, altered bytes or sent for another pair of members`, {
      details: { field, expected: 'AES-256-GCM ciphertext for this pair', received: 'authentication failure' },
      cause,
    });
  }
}
