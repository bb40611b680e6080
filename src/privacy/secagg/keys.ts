// Key agreement and authenticated encryption for SecAgg (Bonawitz et al. 2017, §4): X25519
// (RFC 7748) gives each pair of members a shared secret from their published keys alone;
// HKDF-SHA256 turns it into an AES-256-GCM key, under which one member's secret shares travel
// to another through the server. GCM authenticates the ciphertext and its associated data
// (sender, recipient), so a server that reroutes, alters or replays a share is detected.
// Keys are handled as raw 32-byte strings; node:crypto wants DER, hence the fixed prefixes.

import { type KeyObject, createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes } from 'node:crypto';
import { ConcordError, ErrorCode } from '../../protocol/errors.js';

export const KEY_BYTES = 32;
export const SHARE_INFO = 'concord-secagg-share';
const IV_BYTES = 12;
const TAG_BYTES = 16;

// PKCS#8 wrapper of a raw X25519 private key (RFC 8410): the DER up to the key bytes.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

export interface KeyPair {
  privateKey: KeyObject;
  /** Raw 32-byte public key, as published. */
  publicKey: Uint8Array;
}

function rawFromJwk(value: string | undefined): Uint8Array {
  return new Uint8Array(Buffer.from(value ?? '', 'base64url'));
}

export function generateKeyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  return { privateKey, publicKey: rawFromJwk(publicKey.export({ format: 'jwk' }).x) };
}

/** The raw 32 bytes of a private key, for secret sharing. */
export function privateKeyBytes(privateKey: KeyObject): Uint8Array {
  return rawFromJwk(privateKey.export({ format: 'jwk' }).d);
}

/** The public key belonging to a private key, raw. */
export function publicKeyOf(privateKey: KeyObject): Uint8Array {
  return rawFromJwk(createPublicKey(privateKey).export({ format: 'jwk' }).x);
}

function checkKey(key: Uint8Array, field: string): void {
  if (key.length !== KEY_BYTES) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${field} holds ${key.length} bytes; an X25519 key holds ${KEY_BYTES}`, {
      details: { field, expected: KEY_BYTES, received: key.length },
    });
  }
}

/**
 * A raw private key as a key object. Goes through PKCS#8 so that the public key is derived
 * from the private bytes, not taken on trust (the JWK route would need it given).
 */
export function importPrivateKey(privateKey: Uint8Array, field = 'privateKey'): KeyObject {
  checkKey(privateKey, field);
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, privateKey]), format: 'der', type: 'pkcs8' });
}

/** A raw public key as a key object; import once per peer, agreement is then cheap. */
export function importPublicKey(publicKey: Uint8Array, field = 'publicKey'): KeyObject {
  checkKey(publicKey, field);
  try {
    return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(publicKey).toString('base64url') }, format: 'jwk' });
  } catch (cause) {
    throw new ConcordError(ErrorCode.INVALID_MESSAGE, `${field} is not an X25519 public key`, { details: { field, expected: 'X25519 public key', received: 'unreadable' }, cause });
  }
}

/** X25519(privateKey, publicKey): the same 32 bytes for both members of a pair. */
export function agree(privateKey: KeyObject, publicKey: KeyObject): Uint8Array {
  return new Uint8Array(diffieHellman({ privateKey, publicKey }));
}

/** The AES-256-GCM key for shares between a pair: HKDF-SHA256(shared secret, round seed). */
export function shareEncryptionKey(sharedSecret: Uint8Array, roundSeed: Uint8Array): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', sharedSecret, roundSeed, SHARE_INFO, 32));
}

/** iv ‖ ciphertext ‖ tag, with a fresh random 96-bit IV. */
export function encrypt(key: Uint8Array, plaintext: Uint8Array, associatedData: Uint8Array): Uint8Array {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(associatedData);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return new Uint8Array(Buffer.concat([iv, body, cipher.getAuthTag()]));
}

/** Inverse of encrypt; a wrong key, altered bytes or other associated data are refused. */
export function decrypt(key: Uint8Array, sealed: Uint8Array, associatedData: Uint8Array, field = 'ciphertext'): Uint8Array {
  if (sealed.length < IV_BYTES + TAG_BYTES) {
    throw new ConcordError(ErrorCode.INVALID_MESSAGE, `${field} holds ${sealed.length} bytes; at least ${IV_BYTES + TAG_BYTES} are needed`, {
      details: { field, expected: `>= ${IV_BYTES + TAG_BYTES} bytes`, received: sealed.length },
    });
  }
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV_BYTES));
  decipher.setAAD(associatedData);
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  try {
    return new Uint8Array(Buffer.concat([decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)), decipher.final()]));
  } catch (cause) {
    throw new ConcordError(ErrorCode.INVALID_MESSAGE, `${field} does not authenticate: wrong key, altered bytes or sent for another pair of members`, {
      details: { field, expected: 'AES-256-GCM ciphertext for this pair', received: 'authentication failure' },
      cause,
    });
  }
}
