// The two implementations of SecAggPrimitives must be interchangeable byte for byte: a
// browser member (noble) shares keys, shares and masks with Node members and a Node
// coordinator (node:crypto) in the same round.

import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import { test } from 'node:test';
import { type ConcordError, ErrorCode } from '../../protocol/errors.js';
import { decrypt, encrypt } from './keys.js';
import { type SecAggPrimitives, checkPublicKey } from './primitives.js';
import { nodePrimitives as node } from './primitives-node.js';
import { noblePrimitives as noble } from './primitives-noble.js';

const both: readonly SecAggPrimitives[] = [node, noble];
const bytes = (length: number, start = 0) => Uint8Array.from({ length }, (_, i) => (start + 31 * i) & 0xff);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('hkdf: byte-identical output, including an empty salt, a non-ASCII info and long outputs', () => {
  const cases: [Uint8Array, Uint8Array, string, number][] = [
    [bytes(32), bytes(32, 7), 'concord-secagg-mask', 32],
    [bytes(32), new Uint8Array(0), 'concord-secagg-graph', 32],
    [bytes(1), bytes(5), '', 16],
    [bytes(64, 3), bytes(32, 9), 'info ∑ ünïcode', 100],
    [bytes(32, 1), bytes(32, 2), 'x', 255 * 32],
  ];
  for (const [ikm, salt, info, length] of cases) {
    const a = node.hkdf(ikm, salt, info, length);
    assert.equal(a.length, length);
    assert.equal(hex(noble.hkdf(ikm, salt, info, length)), hex(a), `info ${JSON.stringify(info)}, length ${length}`);
  }
  assert.notEqual(hex(node.hkdf(bytes(32), bytes(32), 'a', 32)), hex(node.hkdf(bytes(32), bytes(32), 'b', 32)));
});

test('keystream: AES-256-CTR from a zero counter, byte-identical whatever the lengths and however it is read', () => {
  const key = node.hkdf(bytes(32), bytes(32, 5), 'stream', 32);
  const CHUNK = 4 * 65_536; // prg.ts reads 64 Ki words at a time
  const total = 2 * CHUNK + 1_000;
  const reference = new Uint8Array(createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(total)));
  for (const primitives of both) {
    for (const length of [0, 1, 15, 16, 17, 4_096, CHUNK - 4, CHUNK, CHUNK + 4, total]) {
      assert.equal(hex(primitives.keystream(key)(length)), hex(reference.subarray(0, length)), `${primitives.name}: one read of ${length} bytes`);
    }
    // Uneven pieces, some inside one AES block, some across blocks and across the chunk size.
    const pieces = [3, 13, 0, 16, 1, 31, CHUNK - 64, 4, CHUNK + 7, 1, 900];
    const read = primitives.keystream(key);
    let at = 0;
    for (const piece of pieces) {
      const got = read(piece);
      assert.equal(got.length, piece);
      assert.equal(hex(got), hex(reference.subarray(at, at + piece)), `${primitives.name}: piece of ${piece} at ${at}`);
      at += piece;
    }
  }
  assert.notEqual(hex(noble.keystream(bytes(32, 1))(32)), hex(noble.keystream(bytes(32, 2))(32)));
});

test('x25519: key pairs, public keys and shared secrets agree across implementations', () => {
  for (const [a, b] of [[node, noble], [noble, node]] as const) {
    const alice = a.generateKeyPair();
    const bob = b.generateKeyPair();
    assert.equal(alice.privateKey.length, 32);
    assert.equal(alice.publicKey.length, 32);
    // Either implementation derives the same public key from a private key made by the other.
    assert.equal(hex(b.publicKeyOf(alice.privateKey)), hex(alice.publicKey));
    assert.equal(hex(a.publicKeyOf(bob.privateKey)), hex(bob.publicKey));
    // Alice on one, Bob on the other: the same secret, which also matches computing both sides on one.
    const secret = a.agree(alice.privateKey, bob.publicKey);
    assert.equal(secret.length, 32);
    assert.equal(hex(b.agree(bob.privateKey, alice.publicKey)), hex(secret));
    assert.equal(hex(b.agree(alice.privateKey, bob.publicKey)), hex(secret));
    assert.notEqual(hex(a.agree(alice.privateKey, a.generateKeyPair().publicKey)), hex(secret));
  }
  // RFC 7748 §5: the top bit of a public key is ignored, by both.
  const alice = node.generateKeyPair();
  const bob = noble.generateKeyPair();
  const high = Uint8Array.from(bob.publicKey);
  high[31]! |= 0x80;
  assert.equal(hex(node.agree(alice.privateKey, high)), hex(noble.agree(alice.privateKey, bob.publicKey)));
  assert.equal(hex(noble.agree(alice.privateKey, high)), hex(noble.agree(alice.privateKey, bob.publicKey)));
});

test('x25519: a node private key array changed in place is not matched to its old key', () => {
  const pair = node.generateKeyPair();
  const peer = node.generateKeyPair();
  const before = node.agree(pair.privateKey, peer.publicKey);
  pair.privateKey.set(noble.generateKeyPair().privateKey);
  assert.notEqual(hex(node.agree(pair.privateKey, peer.publicKey)), hex(before));
  assert.equal(hex(node.agree(pair.privateKey, peer.publicKey)), hex(noble.agree(pair.privateKey, peer.publicKey)));
});

test('x25519: low-order and malformed public keys are refused alike, naming the field', () => {
  const le = (value: bigint) => {
    const out = new Uint8Array(32);
    for (let i = 0, v = value; i < 32; i++, v >>= 8n) out[i] = Number(v & 0xffn);
    return out;
  };
  const p = (1n << 255n) - 19n;
  const lowOrder = [
    0n,
    1n,
    p - 1n,
    p, // non-canonical 0
    p + 1n, // non-canonical 1
    325606250916557431795983626356110631294008115727848805560023387167927233504n,
    39382357235489614581723060781553021112529911719440698176882885853963445705823n,
  ].map(le);
  const withTopBit = Uint8Array.from(le(1n));
  withTopBit[31]! |= 0x80;
  const { privateKey } = node.generateKeyPair();
  for (const primitives of both) {
    for (const key of [...lowOrder, withTopBit]) {
      assert.throws(
        () => primitives.agree(privateKey, key, 'publicKeys[3].maskPublicKey'),
        (e: ConcordError) => e.code === ErrorCode.INVALID_MESSAGE && e.details.field === 'publicKeys[3].maskPublicKey',
        `${primitives.name}: ${hex(key)}`,
      );
    }
    assert.throws(() => primitives.agree(privateKey, new Uint8Array(31), 'pk'), (e: ConcordError) => e.code === ErrorCode.INVALID_ARGUMENT && e.details.field === 'pk');
  }
  assert.throws(() => checkPublicKey(lowOrder[0]!, 'encryptionPublicKey'), (e: ConcordError) => e.details.field === 'encryptionPublicKey');
  checkPublicKey(node.generateKeyPair().publicKey);
});

test('seal / open: AES-256-GCM iv ‖ ciphertext ‖ tag, opened by either implementation', () => {
  const key = bytes(32, 11);
  const ad = new TextEncoder().encode('concord-secagg-share\u0000m0\u0000m1');
  for (const plaintext of [new Uint8Array(0), bytes(1), bytes(98, 4), bytes(1_000, 8)]) {
    for (const [a, b] of [[node, noble], [noble, node], [node, node], [noble, noble]] as const) {
      const sealed = a.seal(key, plaintext, ad);
      assert.equal(sealed.length, 12 + plaintext.length + 16);
      assert.equal(hex(b.open(key, sealed, ad)), hex(plaintext), `${a.name} seals, ${b.name} opens ${plaintext.length} bytes`);
    }
  }
  // The layout pinned: noble's box is exactly what OpenSSL computes under the same IV.
  const box = noble.seal(key, bytes(40), ad);
  const cipher = createCipheriv('aes-256-gcm', key, box.subarray(0, 12));
  cipher.setAAD(ad);
  assert.equal(hex(box), hex(Buffer.concat([box.subarray(0, 12), cipher.update(bytes(40)), cipher.final(), cipher.getAuthTag()])));
  for (const primitives of both) assert.notEqual(hex(primitives.seal(key, bytes(40), ad).subarray(0, 12)), hex(primitives.seal(key, bytes(40), ad).subarray(0, 12)), `${primitives.name}: a fresh IV per box`);
});

test('seal / open: a tampered box, other associated data or another key are refused by both', () => {
  const key = bytes(32, 11);
  const ad = new TextEncoder().encode('a→b');
  const sealed = noble.seal(key, bytes(64), ad);
  for (const primitives of both) {
    for (const at of [0, 11, 12, 40, sealed.length - 16, sealed.length - 1]) {
      const tampered = Uint8Array.from(sealed);
      tampered[at]! ^= 0x01;
      assert.throws(() => primitives.open(key, tampered, ad), `${primitives.name}: byte ${at} flipped`);
    }
    assert.throws(() => primitives.open(key, sealed, new TextEncoder().encode('a→c')), `${primitives.name}: other associated data`);
    assert.throws(() => primitives.open(bytes(32, 12), sealed, ad), `${primitives.name}: another key`);
    assert.throws(() => primitives.open(key, sealed.subarray(0, 27), ad), `${primitives.name}: shorter than iv and tag`);
    // keys.ts turns any refusal into the protocol's message, naming the field.
    assert.throws(
      () => decrypt(primitives, key, sealed, new TextEncoder().encode('a→c'), 'ciphertexts[2].ciphertext'),
      (e: ConcordError) => e.code === ErrorCode.INVALID_MESSAGE && e.details.field === 'ciphertexts[2].ciphertext' && /does not authenticate/.test(e.message),
    );
    assert.deepEqual(decrypt(primitives, key, encrypt(primitives, key, bytes(5), ad), ad), bytes(5));
  }
});
