// What the server sees does not reveal an individual update (Bonawitz et al. 2017, §6):
// masked vectors look uniform, encrypted shares do not open without a member's key, no member
// gives both secrets of a peer, and fewer than t shares of each secret leave the vector masked.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ConcordError, ErrorCode } from '../../protocol/errors.js';
import { decrypt, encrypt, shareEncryptionKey } from './keys.js';
import { applyMask } from './prg.js';
import { nodePrimitives as node } from './primitives-node.js';
import { type SecAggReply, type ShareKeysReply, decodeRingVector, fromBase64, makeSecAggConfig, shareAssociatedData } from './protocol.js';
import { quantizeUpdate } from './quantize.js';
import { type Share, reconstructSecret } from './shamir.js';
import { simulateSecAgg } from './simulate.js';
import { driveToUnmask } from './testing.js';

const ids = (n: number) => Array.from({ length: n }, (_, i) => `m${i}`);

function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0, mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= n;
  mb /= n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i]! - ma, db = b[i]! - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return sab / Math.sqrt(saa * sbb);
}

/** A structured update: a ramp from −1 to 1, easy to spot if anything leaked. */
const ramp = (n: number) => Float32Array.from({ length: n }, (_, i) => -1 + (2 * i) / (n - 1));
const signed = (v: Uint32Array) => Float64Array.from(v, (x) => (x >= 2 ** 31 ? x - 2 ** 32 : x));

test('a masked vector is uniform on Z_2^32 and uncorrelated with the update', () => {
  const P = 20_000;
  const config = makeSecAggConfig({ memberIds: ids(5), vectorLength: P, clippingRange: 1 });
  const data = ramp(P);
  const view: SecAggReply[] = [];
  simulateSecAgg({ config, update: () => ({ data, weight: 1 }), onMessage: (direction, _id, m) => direction === 'reply' && view.push(m as SecAggReply) });
  const reply = view.find((m) => m.stage === 'collectMaskedVectors' && m.memberId === 'm0')!;
  assert.ok(reply.stage === 'collectMaskedVectors');
  const masked = decodeRingVector(reply.maskedVector, P + 1, 'maskedVector');
  const plain = quantizeUpdate(data, 1, config);
  // Control: the unmasked quantized vector is the ramp itself.
  assert.ok(correlation(signed(plain).subarray(0, P), data) > 0.999);
  // Masked: |r| within 4 standard errors (1/√P ≈ 0.007) of 0, as signed and as unsigned words.
  for (const view of [signed(masked), Float64Array.from(masked)]) {
    const r = correlation(view.subarray(0, P), data);
    assert.ok(Math.abs(r) < 4 / Math.sqrt(P), `correlation ${r}`);
  }
  let mean = 0;
  const bins = new Array<number>(16).fill(0);
  for (let i = 0; i < P; i++) {
    mean += masked[i]! / 2 ** 32;
    bins[masked[i]! >>> 28]!++;
  }
  mean /= P;
  assert.ok(Math.abs(mean - 0.5) < 0.01, `mean ${mean}`);
  const chi2 = bins.reduce((s, b) => s + (b - P / 16) ** 2 / (P / 16), 0);
  assert.ok(chi2 < 40, `chi-square ${chi2} with 15 degrees of freedom`);
});

test('the server never receives both secrets of any member in an honest round', () => {
  const config = makeSecAggConfig({ memberIds: ids(12), vectorLength: 10 });
  const shares = { selfMask: new Set<string>(), maskKey: new Set<string>() };
  simulateSecAgg({
    config,
    update: () => ({ data: ramp(10), weight: 1 }),
    dropouts: { collectMaskedVectors: ['m3'], unmask: ['m5'] },
    onMessage: (direction, _id, m) => {
      if (direction === 'reply' && m.stage === 'unmask' && 'shares' in m) for (const s of m.shares) shares[(s as { secret: 'selfMask' | 'maskKey' }).secret].add((s as { owner: string }).owner);
    },
  });
  assert.deepEqual([...shares.maskKey], ['m3']);
  assert.ok(shares.selfMask.has('m5') && !shares.selfMask.has('m3'));
  assert.deepEqual([...shares.selfMask].filter((id) => shares.maskKey.has(id)), []);
});

test('encrypted shares do not open with anything the server holds', () => {
  const config = makeSecAggConfig({ memberIds: ids(4), vectorLength: 2 });
  const view: SecAggReply[] = [];
  simulateSecAgg({ config, update: () => ({ data: ramp(2), weight: 1 }), onMessage: (d, _id, m) => d === 'reply' && view.push(m as SecAggReply) });
  const setup = new Map(view.filter((m) => m.stage === 'setup').map((m) => [m.memberId, m]));
  const sent = view.find((m): m is ShareKeysReply => m.stage === 'shareKeys' && m.memberId === 'm0')!;
  const { to, ciphertext } = sent.shares[0]!;
  const sealed = fromBase64(ciphertext, 'ciphertext');
  const salt = fromBase64(config.roundSeed, 'roundSeed');
  const pk = (id: string) => fromBase64((setup.get(id) as { encryptionPublicKey: string }).encryptionPublicKey, 'pk');
  const server = node.generateKeyPair();
  // Keys the server can form: its own agreement with either party, or a hash of the public keys.
  const attempts = [
    shareEncryptionKey(node, node.agree(server.privateKey, pk('m0')), salt),
    shareEncryptionKey(node, node.agree(server.privateKey, pk(to)), salt),
    shareEncryptionKey(node, new Uint8Array([...fromBase64((setup.get('m0') as { encryptionPublicKey: string }).encryptionPublicKey, 'a'), ...fromBase64((setup.get(to) as { encryptionPublicKey: string }).encryptionPublicKey, 'b')]), salt),
  ];
  for (const key of attempts) {
    assert.throws(() => decrypt(node, key, sealed, shareAssociatedData('m0', to)), (e: ConcordError) => e.code === ErrorCode.INVALID_MESSAGE && /does not authenticate/.test(e.message));
  }
  // Control: the two members' own keys agree, and the ciphertext is bound to sender and recipient.
  const a = node.generateKeyPair(), b = node.generateKeyPair();
  const key = shareEncryptionKey(node, node.agree(a.privateKey, b.publicKey), salt);
  const box = encrypt(node, key, new Uint8Array([1, 2, 3]), shareAssociatedData('a', 'b'));
  assert.deepEqual(decrypt(node, shareEncryptionKey(node, node.agree(b.privateKey, a.publicKey), salt), box, shareAssociatedData('a', 'b')), new Uint8Array([1, 2, 3]));
  assert.throws(() => decrypt(node, key, box, shareAssociatedData('a', 'c')), (e: ConcordError) => e.code === ErrorCode.INVALID_MESSAGE);
});

test('a cheating server with t − 1 shares of each secret cannot unmask a vector; with t it could', () => {
  // k = 8, t = 4 on purpose: m0's 8 neighbours split 4 + 4 then give t shares of each secret.
  // The default t = 5 (a strict majority of the 9 holders) makes even that split too small.
  const P = 5_000;
  const config = makeSecAggConfig({ memberIds: ids(10), vectorLength: P, threshold: 4, clippingRange: 1 });
  const data = ramp(P);
  const updates = new Map(config.memberIds.map((id) => [id, { data: id === 'm0' ? data : new Float32Array(P), weight: 1 }]));
  const { server, members, view, maskedVectors } = driveToUnmask(config, updates);
  const setup = new Map(view.filter((m) => m.stage === 'setup').map((m) => [m.memberId, m as { maskPublicKey: string }]));
  const neighbours = server.neighboursOf('m0');
  assert.equal(neighbours.length, 8);

  // The server lies: half of m0's neighbours hear "m0 survived", the other half "m0 dropped".
  const selfMaskShares: Share[] = [];
  const maskKeyShares: Share[] = [];
  neighbours.forEach((id, i) => {
    const survived = i < 4;
    const reply = members.get(id)!.handle({ stage: 'unmask', roundSeed: config.roundSeed, survivors: survived ? [id, 'm0'] : [id], dropped: survived ? [] : ['m0'] });
    assert.ok(reply.stage === 'unmask');
    for (const s of reply.shares) if (s.owner === 'm0') (survived ? selfMaskShares : maskKeyShares).push({ x: config.memberIds.indexOf(id) + 1, data: fromBase64(s.share, 'share') });
  });
  assert.equal(selfMaskShares.length, 4);
  assert.equal(maskKeyShares.length, 4);

  const salt = fromBase64(config.roundSeed, 'roundSeed');
  const masked = decodeRingVector(maskedVectors.get('m0')!.maskedVector, P + 1, 'maskedVector');
  const unmask = (b: Share[], s: Share[]) => {
    const v = masked.slice();
    applyMask(node, v, reconstructSecret(b), salt, -1);
    const sk = reconstructSecret(s);
    const ok = Buffer.from(node.publicKeyOf(sk)).toString('base64') === setup.get('m0')!.maskPublicKey;
    for (const id of neighbours) {
      const pk = fromBase64(setup.get(id)!.maskPublicKey, 'pk');
      applyMask(node, v, node.agree(sk, pk), salt, 1); // m0 has the lowest index: it subtracted every pair mask
    }
    return { vector: v, keyMatches: ok };
  };
  const plain = quantizeUpdate(data, 1, config);

  const short = unmask(selfMaskShares.slice(0, 3), maskKeyShares.slice(0, 3));
  assert.equal(short.keyMatches, false);
  const r = correlation(signed(short.vector).subarray(0, P), data);
  assert.ok(Math.abs(r) < 4 / Math.sqrt(P), `t − 1 shares: correlation ${r}`);

  const full = unmask(selfMaskShares, maskKeyShares);
  assert.equal(full.keyMatches, true);
  assert.deepEqual(full.vector, plain);
});
