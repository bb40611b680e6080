// SecAgg+ primitives on node:crypto (OpenSSL): what the coordinator and Node members use.
// AES runs with AES-NI at GB/s, which is what makes mask expansion cheap (prg.ts). Keys are
// raw 32-byte strings at the interface; node:crypto wants KeyObjects, so private keys are
// imported through PKCS#8 DER — the public key is then derived from the private bytes, not
// taken on trust — and, that import costing ~0.5 ms, cached per key array.

import { type KeyObject, createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync } from 'node:crypto';
import { GCM_IV_BYTES, GCM_TAG_BYTES, type SecAggPrimitives, type X25519KeyPair, agreementFailed, checkKeyLength, checkPublicKey, equalBytes, secureRandomBytes } from './primitives.js';

// PKCS#8 wrapper of a raw X25519 private key (RFC 8410): the DER up to the key bytes.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const ZERO_IV = Buffer.alloc(16);
/** Zeros the CTR key stream is read against; larger reads go in pieces of this size. */
const ZEROS = Buffer.alloc(1 << 18);

function rawFromJwk(value: string | undefined): Uint8Array {
  return new Uint8Array(Buffer.from(value ?? '', 'base64url'));
}

/**
 * Private KeyObjects by the array holding the raw key. Keyed by identity so nothing outlives
 * the caller's array; the bytes are compared on every hit, so an array changed in place is
 * imported afresh rather than matched to a stale key.
 */
const privateKeys = new WeakMap<Uint8Array, { bytes: Uint8Array; key: KeyObject }>();

function privateKeyObject(privateKey: Uint8Array): KeyObject {
  const hit = privateKeys.get(privateKey);
  if (hit && equalBytes(hit.bytes, privateKey)) return hit.key;
  checkKeyLength(privateKey, 'privateKey');
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, privateKey]), format: 'der', type: 'pkcs8' });
  privateKeys.set(privateKey, { bytes: Uint8Array.from(privateKey), key });
  return key;
}

function publicKeyObject(publicKey: Uint8Array, field: string): KeyObject {
  try {
    return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(publicKey).toString('base64url') }, format: 'jwk' });
  } catch (cause) {
    throw agreementFailed(field, cause);
  }
}

export const nodePrimitives: SecAggPrimitives = {
  name: 'node',

  generateKeyPair(): X25519KeyPair {
    const { privateKey, publicKey } = generateKeyPairSync('x25519');
    const pair = { privateKey: rawFromJwk(privateKey.export({ format: 'jwk' }).d), publicKey: rawFromJwk(publicKey.export({ format: 'jwk' }).x) };
    privateKeys.set(pair.privateKey, { bytes: Uint8Array.from(pair.privateKey), key: privateKey });
    return pair;
  },

  publicKeyOf(privateKey: Uint8Array): Uint8Array {
    return rawFromJwk(createPublicKey(privateKeyObject(privateKey)).export({ format: 'jwk' }).x);
  },

  agree(privateKey: Uint8Array, publicKey: Uint8Array, field = 'publicKey'): Uint8Array {
    checkPublicKey(publicKey, field);
    const key = privateKeyObject(privateKey);
    try {
      return new Uint8Array(diffieHellman({ privateKey: key, publicKey: publicKeyObject(publicKey, field) }));
    } catch (cause) {
      throw agreementFailed(field, cause);
    }
  },

  hkdf(ikm: Uint8Array, salt: Uint8Array, info: string, length: number): Uint8Array {
    return new Uint8Array(hkdfSync('sha256', ikm, salt, info, length));
  },

  seal(key: Uint8Array, plaintext: Uint8Array, associatedData: Uint8Array): Uint8Array {
    checkKeyLength(key, 'key', 'an AES-256 key');
    const iv = secureRandomBytes(GCM_IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(associatedData);
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return new Uint8Array(Buffer.concat([iv, body, cipher.getAuthTag()]));
  },

  open(key: Uint8Array, sealed: Uint8Array, associatedData: Uint8Array): Uint8Array {
    checkKeyLength(key, 'key', 'an AES-256 key');
    if (sealed.length < GCM_IV_BYTES + GCM_TAG_BYTES) throw new Error(`sealed box of ${sealed.length} bytes is shorter than iv and tag`);
    const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, GCM_IV_BYTES));
    decipher.setAAD(associatedData);
    decipher.setAuthTag(sealed.subarray(sealed.length - GCM_TAG_BYTES));
    return new Uint8Array(Buffer.concat([decipher.update(sealed.subarray(GCM_IV_BYTES, sealed.length - GCM_TAG_BYTES)), decipher.final()]));
  },

  keystream(key: Uint8Array): (bytes: number) => Uint8Array {
    checkKeyLength(key, 'key', 'an AES-256 key');
    const cipher = createCipheriv('aes-256-ctr', key, ZERO_IV);
    return (bytes) => {
      if (bytes <= ZEROS.length) {
        // A plain view of the Buffer: callers get Uint8Array semantics (slice copies).
        const piece = cipher.update(ZEROS.subarray(0, bytes));
        return new Uint8Array(piece.buffer, piece.byteOffset, piece.length);
      }
      const out = new Uint8Array(bytes);
      for (let at = 0; at < bytes; at += ZEROS.length) out.set(cipher.update(ZEROS.subarray(0, Math.min(ZEROS.length, bytes - at))), at);
      return out;
    };
  },
};
