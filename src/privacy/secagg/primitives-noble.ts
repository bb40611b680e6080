// SecAgg+ primitives on the audited @noble libraries (pure JS, synchronous): what the browser
// member uses, since Web Crypto is asynchronous only. Byte-identical to primitives-node.ts
// (primitives.test.ts checks it). AES here runs at tens of MB/s, not OpenSSL's GB/s — ample
// for models a browser trains; Node keeps node:crypto.

import { ctr, gcm } from '@noble/ciphers/aes.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { GCM_IV_BYTES, GCM_TAG_BYTES, type SecAggPrimitives, type X25519KeyPair, agreementFailed, checkKeyLength, checkPublicKey, secureRandomBytes, utf8Bytes } from './primitives.js';

const BLOCK = 16;

/** counter ← counter + blocks, as a 128-bit big-endian integer (wrapping, like OpenSSL's CTR). */
function advanceCounter(counter: Uint8Array, blocks: number): void {
  let carry = blocks;
  for (let i = BLOCK - 1; i >= 0 && carry > 0; i--) {
    const sum = counter[i]! + (carry % 256);
    counter[i] = sum & 0xff;
    carry = Math.floor(carry / 256) + (sum >> 8);
  }
}

export const noblePrimitives: SecAggPrimitives = {
  name: 'noble',

  generateKeyPair(): X25519KeyPair {
    const privateKey = secureRandomBytes(32);
    return { privateKey, publicKey: x25519.getPublicKey(privateKey) };
  },

  publicKeyOf(privateKey: Uint8Array): Uint8Array {
    checkKeyLength(privateKey, 'privateKey');
    return x25519.getPublicKey(privateKey);
  },

  agree(privateKey: Uint8Array, publicKey: Uint8Array, field = 'publicKey'): Uint8Array {
    checkPublicKey(publicKey, field);
    checkKeyLength(privateKey, 'privateKey');
    try {
      return x25519.getSharedSecret(privateKey, publicKey);
    } catch (cause) {
      throw agreementFailed(field, cause);
    }
  },

  hkdf(ikm: Uint8Array, salt: Uint8Array, info: string, length: number): Uint8Array {
    return hkdf(sha256, ikm, salt, utf8Bytes(info), length);
  },

  seal(key: Uint8Array, plaintext: Uint8Array, associatedData: Uint8Array): Uint8Array {
    checkKeyLength(key, 'key', 'an AES-256 key');
    const iv = secureRandomBytes(GCM_IV_BYTES);
    // noble returns ciphertext ‖ tag; the iv goes in front, as node's layout has it.
    const body = gcm(key, iv, associatedData).encrypt(plaintext);
    const out = new Uint8Array(GCM_IV_BYTES + body.length);
    out.set(iv);
    out.set(body, GCM_IV_BYTES);
    return out;
  },

  open(key: Uint8Array, sealed: Uint8Array, associatedData: Uint8Array): Uint8Array {
    checkKeyLength(key, 'key', 'an AES-256 key');
    if (sealed.length < GCM_IV_BYTES + GCM_TAG_BYTES) throw new Error(`sealed box of ${sealed.length} bytes is shorter than iv and tag`);
    return gcm(key, sealed.subarray(0, GCM_IV_BYTES), associatedData).decrypt(sealed.subarray(GCM_IV_BYTES));
  },

  keystream(key: Uint8Array): (bytes: number) => Uint8Array {
    checkKeyLength(key, 'key', 'an AES-256 key');
    const counter = new Uint8Array(BLOCK);
    // Bytes of the last block produced but not yet read: reads need not be block-sized.
    let spare: Uint8Array = new Uint8Array(0);
    const next = (blocks: number): Uint8Array => {
      // A noble CTR instance encrypts once; each read starts one at the running counter,
      // encrypting zeros in place.
      const stream = new Uint8Array(blocks * BLOCK);
      ctr(key, counter).encrypt(stream, stream);
      advanceCounter(counter, blocks);
      return stream;
    };
    return (bytes) => {
      if (bytes === 0) return new Uint8Array(0);
      if (spare.length === 0 && bytes % BLOCK === 0) return next(bytes / BLOCK);
      const out = new Uint8Array(bytes);
      const fromSpare = Math.min(bytes, spare.length);
      out.set(spare.subarray(0, fromSpare));
      spare = spare.subarray(fromSpare);
      const missing = bytes - fromSpare;
      if (missing === 0) return out;
      const stream = next(Math.ceil(missing / BLOCK));
      out.set(stream.subarray(0, missing), fromSpare);
      spare = stream.subarray(missing);
      return out;
    };
  },
};
