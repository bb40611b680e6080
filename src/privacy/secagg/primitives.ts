// The cryptographic primitives SecAgg+ is built from, over raw bytes, behind one interface so
// that the member's state machine runs both in Node and in a browser. Two implementations
// give byte-identical results: primitives-node.ts (node:crypto, OpenSSL with AES-NI — the
// coordinator and Node members) and primitives-noble.ts (the audited @noble libraries, pure
// JS — the browser member). Browser WebCrypto cannot be used: it is asynchronous only, and
// the member's state machine is synchronous. This module imports nothing from Node; the
// checks both implementations share live here so they refuse the same inputs alike.

import { ConcordError, ErrorCode } from '../../protocol/errors.js';

/** Bytes of an X25519 private key, public key and shared secret, and of an AES-256 key. */
export const KEY_BYTES = 32;
/** AES-256-GCM layout: iv(12) ‖ ciphertext ‖ tag(16). */
export const GCM_IV_BYTES = 12;
export const GCM_TAG_BYTES = 16;

/** An X25519 key pair as raw 32-byte strings (RFC 7748 encodings). */
export interface X25519KeyPair {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

export interface SecAggPrimitives {
  /** Names the implementation in logs and test titles. */
  readonly name: string;
  /** A fresh X25519 key pair from a CSPRNG. */
  generateKeyPair(): X25519KeyPair;
  /** The public key of a raw private key. */
  publicKeyOf(privateKey: Uint8Array): Uint8Array;
  /**
   * X25519(privateKey, publicKey), the same 32 bytes for both members of a pair. A
   * low-order public key (whose secret would be all zeros) is refused with INVALID_MESSAGE
   * naming `field`.
   */
  agree(privateKey: Uint8Array, publicKey: Uint8Array, field?: string): Uint8Array;
  /** HKDF-SHA256 (RFC 5869); `info` is encoded as UTF-8. */
  hkdf(ikm: Uint8Array, salt: Uint8Array, info: string, length: number): Uint8Array;
  /** AES-256-GCM under a fresh random 96-bit IV: iv ‖ ciphertext ‖ tag. */
  seal(key: Uint8Array, plaintext: Uint8Array, associatedData: Uint8Array): Uint8Array;
  /** Inverse of seal; throws when the tag does not authenticate (wrong key, altered bytes or other associated data). */
  open(key: Uint8Array, sealed: Uint8Array, associatedData: Uint8Array): Uint8Array;
  /**
   * The AES-256-CTR key stream of `key` with an all-zero initial counter block (a full
   * 128-bit big-endian counter), read in consecutive pieces: `read(n)` returns the next n
   * bytes, owned by the caller.
   */
  keystream(key: Uint8Array): (bytes: number) => Uint8Array;
}

/** Most bytes getRandomValues fills in one call (Web Crypto's QuotaExceededError limit). */
const RANDOM_CHUNK = 65_536;

/** Uniform bytes from the platform CSPRNG (Web Crypto, present in Node 20 and browsers). */
export function secureRandomBytes(length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let at = 0; at < length; at += RANDOM_CHUNK) globalThis.crypto.getRandomValues(out.subarray(at, at + RANDOM_CHUNK));
  return out;
}

const utf8 = new TextEncoder();

export function utf8Bytes(text: string): Uint8Array {
  return utf8.encode(text);
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** Refuses a key of the wrong length before it reaches a cipher or the curve. */
export function checkKeyLength(key: Uint8Array, field: string, what = 'an X25519 key'): void {
  if (key.length !== KEY_BYTES) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${field} holds ${key.length} bytes; ${what} holds ${KEY_BYTES}`, {
      details: { field, expected: KEY_BYTES, received: key.length },
    });
  }
}

const P25519 = (1n << 255n) - 19n;
// The u-coordinates of order dividing the cofactor 8 (RFC 7748 §6.1; the list libsodium
// refuses): X25519 with any of them gives the all-zero secret, which an attacker could predict.
const LOW_ORDER_U = new Set([
  0n,
  1n,
  P25519 - 1n,
  325606250916557431795983626356110631294008115727848805560023387167927233504n,
  39382357235489614581723060781553021112529911719440698176882885853963445705823n,
]);

/** The u-coordinate an X25519 public key stands for: little-endian, top bit ignored, reduced mod p (RFC 7748 §5). */
function decodeU(publicKey: Uint8Array): bigint {
  let u = 0n;
  for (let i = KEY_BYTES - 1; i >= 0; i--) u = (u << 8n) | BigInt(i === KEY_BYTES - 1 ? publicKey[i]! & 0x7f : publicKey[i]!);
  return u % P25519;
}

/** A public key both implementations accept: 32 bytes, not of low order. */
export function checkPublicKey(publicKey: Uint8Array, field = 'publicKey'): void {
  checkKeyLength(publicKey, field);
  if (LOW_ORDER_U.has(decodeU(publicKey))) {
    throw new ConcordError(ErrorCode.INVALID_MESSAGE, `${field} is a low-order X25519 point; agreement with it gives a predictable secret`, {
      details: { field, expected: 'X25519 public key of large order', received: 'low-order point' },
    });
  }
}

/** An agreement the implementation refused after the shared checks passed. */
export function agreementFailed(field: string, cause: unknown): ConcordError {
  return new ConcordError(ErrorCode.INVALID_MESSAGE, `${field} is not an X25519 public key`, { details: { field, expected: 'X25519 public key', received: 'unreadable' }, cause });
}
