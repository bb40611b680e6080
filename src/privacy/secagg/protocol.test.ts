import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { weightedAverage } from '../../core/aggregate.js';
import { seededRandom, shuffle } from '../../core/random.js';
import { type ConcordError, ErrorCode } from '../../protocol/errors.js';
import { SecAggMember } from './member.js';
import { nodePrimitives } from './primitives-node.js';
import { noblePrimitives } from './primitives-noble.js';
import { type KeyAuthenticator, type SecAggConfig, type SecAggRequest, type SecAggStage, type UnmaskReply, makeSecAggConfig } from './protocol.js';
import { quantizationErrorBound } from './quantize.js';
import { SecAggServer } from './server.js';
import { simulateSecAgg } from './simulate.js';
import { driveToUnmask, makeUpdates } from './testing.js';

const ids = (n: number) => Array.from({ length: n }, (_, i) => `m${i}`);
const seed = (b: number) => new Uint8Array(32).fill(b);

/** The plain float weighted average of the contributors, against the secure one. */
function checkAverage(config: SecAggConfig, updates: ReturnType<typeof makeUpdates>, result: { average: Float32Array; totalWeight: number; contributors: string[] }): void {
  const inputs = result.contributors.map((id) => updates.get(id)!);
  const exact = weightedAverage(inputs);
  const totalWeight = inputs.reduce((s, u) => s + u.weight, 0);
  const bound = quantizationErrorBound({ ...config, members: inputs.length, totalWeight }) + 4 * 2 ** -24 * config.clippingRange;
  let worst = 0;
  for (let i = 0; i < exact.length; i++) worst = Math.max(worst, Math.abs(result.average[i]! - exact[i]!));
  assert.ok(worst <= bound, `error ${worst} above the bound ${bound}`);
  assert.ok(Math.abs(result.totalWeight - totalWeight) <= (inputs.length * config.maxWeight) / 2 ** config.bits, `total weight ${result.totalWeight} vs ${totalWeight}`);
}

test('defaults: N = 12 gives k = 8, t = 5, 28 bits, clipping 8, maxWeight 1', () => {
  const c = makeSecAggConfig({ memberIds: ids(12), vectorLength: 5, roundSeed: seed(1) });
  assert.deepEqual(
    { k: c.neighbours, t: c.threshold, bits: c.bits, clip: c.clippingRange, maxWeight: c.maxWeight, ring: c.modulusBits, seed: c.roundSeed },
    { k: 8, t: 5, bits: 28, clip: 8, maxWeight: 1, ring: 32, seed: Buffer.from(seed(1)).toString('base64') },
  );
});

test('a round without dropouts gives the plain weighted average', () => {
  const config = makeSecAggConfig({ memberIds: ids(12), vectorLength: 300, clippingRange: 1, maxWeight: 100 });
  const updates = makeUpdates(config.memberIds, 300, { seed: 1, range: 1, maxWeight: 100 });
  const { result, refusals } = simulateSecAgg({ config, update: (id) => updates.get(id)! });
  assert.equal(refusals.size, 0);
  assert.deepEqual(result.contributors, config.memberIds);
  assert.deepEqual(result.dropouts, { setup: [], shareKeys: [], collectMaskedVectors: [], unmask: [] });
  checkAverage(config, updates, result);
  // Σwθ agrees with the average times Σw.
  for (const i of [0, 150, 299]) assert.ok(Math.abs(result.weightedSum[i]! - result.average[i]! * result.totalWeight) < 1e-3);
});

test('random dropouts at every stage: the survivors\' weighted average comes out', () => {
  const random = seededRandom(2024);
  for (let trial = 0; trial < 3; trial++) {
    // N = 30: k = 10, t = 6, so each secret's 11 holders tolerate 5 losses — here 5 members
    // drop in all, so every graph works. (Harary neighbourhoods overlap: 8 random dropouts
    // can already take 6 of one member's 10 neighbours.)
    const config = makeSecAggConfig({ memberIds: ids(30), vectorLength: 200, clippingRange: 2, maxWeight: 1000, roundSeed: seed(10 + trial) });
    const updates = makeUpdates(config.memberIds, 200, { seed: trial, range: 2, maxWeight: 1000 });
    const order = shuffle([...config.memberIds], random);
    // 2 before setup (no keys), 1 after keys, 1 after shares (before masked input), 1 after masked input.
    const dropouts = { setup: order.slice(0, 2), shareKeys: order.slice(2, 3), collectMaskedVectors: order.slice(3, 4), unmask: order.slice(4, 5) };
    const { result, refusals } = simulateSecAgg({ config, update: (id) => updates.get(id)!, dropouts });
    assert.equal(refusals.size, 0);
    for (const stage of ['setup', 'shareKeys', 'collectMaskedVectors', 'unmask'] as SecAggStage[]) {
      assert.deepEqual([...result.dropouts[stage]].sort(), [...dropouts[stage]].sort(), stage);
    }
    // Members lost after their masked vector still count; the earlier ones do not.
    const expected = config.memberIds.filter((id) => !order.slice(0, 4).includes(id));
    assert.deepEqual(result.contributors, expected);
    checkAverage(config, updates, result);
  }
});

test('browser (noble) and Node members in one round, with dropouts: the weighted average comes out', () => {
  // P = 70 000 crosses prg.ts's 64 Ki-word chunk; odd members run noble, the server node:crypto.
  const P = 70_000;
  const config = makeSecAggConfig({ memberIds: ids(12), vectorLength: P, clippingRange: 1, maxWeight: 50, roundSeed: seed(21) });
  const updates = makeUpdates(config.memberIds, P, { seed: 21, range: 1, maxWeight: 50 });
  const used = new Map<string, string>();
  const primitives = (id: string) => {
    const chosen = Number(id.slice(1)) % 2 === 1 ? noblePrimitives : nodePrimitives;
    used.set(id, chosen.name);
    return chosen;
  };
  // m3 (noble) and m4 (node) vanish after sharing keys: the server rebuilds their mask keys
  // and removes the pairwise masks their neighbours — of both kinds — added; m5 (noble) after
  // its masked vector, so its self-mask is rebuilt from shares.
  const dropouts = { collectMaskedVectors: ['m3', 'm4'], unmask: ['m5'] };
  const { result, refusals } = simulateSecAgg({ config, update: (id) => updates.get(id)!, dropouts, primitives });
  assert.equal(refusals.size, 0);
  assert.equal([...used.values()].filter((name) => name === 'noble').length, 6);
  assert.deepEqual(result.dropouts, { setup: [], shareKeys: [], collectMaskedVectors: ['m3', 'm4'], unmask: ['m5'] });
  assert.deepEqual(result.contributors, config.memberIds.filter((id) => id !== 'm3' && id !== 'm4'));
  checkAverage(config, updates, result);
});

test('a round of browser (noble) members only, with a dropout after shareKeys', () => {
  const config = makeSecAggConfig({ memberIds: ids(6), vectorLength: 300, clippingRange: 1, maxWeight: 10, roundSeed: seed(22) });
  const updates = makeUpdates(config.memberIds, 300, { seed: 22, range: 1, maxWeight: 10 });
  const { result, refusals } = simulateSecAgg({ config, update: (id) => updates.get(id)!, dropouts: { collectMaskedVectors: ['m2'] }, primitives: noblePrimitives });
  assert.equal(refusals.size, 0);
  assert.deepEqual(result.contributors, ['m0', 'm1', 'm3', 'm4', 'm5']);
  checkAverage(config, updates, result);
});

test('a low-order public key is refused by the server at setup and by members at shareKeys', () => {
  const config = makeSecAggConfig({ memberIds: ids(4), vectorLength: 2, roundSeed: seed(23) });
  const zero = Buffer.alloc(32).toString('base64');
  const server = new SecAggServer(config);
  server.start();
  const m0 = new SecAggMember({ memberId: 'm0', primitives: noblePrimitives });
  const reply = m0.setup({ stage: 'setup', config });
  assert.throws(() => server.receive({ ...reply, maskPublicKey: zero }), (e: ConcordError) => e.code === ErrorCode.INVALID_MESSAGE && e.details.field === 'maskPublicKey');
  // A server that forwards one anyway: the member refuses before sharing anything.
  for (const primitives of [nodePrimitives, noblePrimitives]) {
    const member = new SecAggMember({ memberId: 'm0', primitives });
    const own = member.setup({ stage: 'setup', config });
    const peer = nodePrimitives.generateKeyPair().publicKey;
    const publicKeys = [
      { memberId: 'm0', encryptionPublicKey: own.encryptionPublicKey, maskPublicKey: own.maskPublicKey },
      { memberId: 'm1', encryptionPublicKey: Buffer.from(peer).toString('base64'), maskPublicKey: zero },
    ];
    assert.throws(
      () => member.shareKeys({ stage: 'shareKeys', roundSeed: config.roundSeed, publicKeys }),
      (e: ConcordError) => e.code === ErrorCode.INVALID_MESSAGE && e.details.field === 'publicKeys[1].maskPublicKey',
      primitives.name,
    );
    assert.equal(member.stage, 'aborted');
  }
});

test('a member left with too few neighbours before masking is excluded, and the round goes on', () => {
  // k = 4, t = 3: dropping 3 of m0's 4 neighbours at setup leaves it 1 < t − 1.
  const config = makeSecAggConfig({ memberIds: ids(14), vectorLength: 50, neighbours: 4, threshold: 3, roundSeed: seed(9) });
  const server = new SecAggServer(config);
  const gone = server.neighboursOf('m0').slice(0, 3);
  const updates = makeUpdates(config.memberIds, 50, { seed: 5, range: 1, maxWeight: 1 });
  const { result } = simulateSecAgg({ config, update: (id) => updates.get(id)!, dropouts: { setup: gone } });
  assert.deepEqual([...result.dropouts.setup].sort(), [...gone].sort());
  assert.ok(result.dropouts.shareKeys.includes('m0'));
  assert.ok(!result.contributors.includes('m0'));
  checkAverage(config, updates, result);
});

test('too many dropouts after masked input: the error names the member and the shortfall', () => {
  // N = 3 (k = 2, t = 2): with m0 and m1 gone at unmask only m2 answers, 1 share per secret.
  const config = makeSecAggConfig({ memberIds: ids(3), vectorLength: 4 });
  const updates = makeUpdates(config.memberIds, 4, { seed: 3, range: 1, maxWeight: 1 });
  assert.throws(
    () => simulateSecAgg({ config, update: (id) => updates.get(id)!, dropouts: { unmask: ['m0', 'm1'] } }),
    (e: ConcordError) =>
      e.code === ErrorCode.NOT_ENOUGH_MEMBERS &&
      e.message.startsWith("member m0's self-mask needs 2 shares, only 1 survivors hold one") &&
      e.details.field === 'shares.m0.selfMask' &&
      e.details.expected === 2 &&
      e.details.received === 1,
  );
  // m0 drops before its masked vector, m2 before unmasking: m0's mask key has 1 share of 2.
  assert.throws(
    () => simulateSecAgg({ config, update: (id) => updates.get(id)!, dropouts: { collectMaskedVectors: ['m0'], unmask: ['m2'] } }),
    (e: ConcordError) =>
      e.code === ErrorCode.NOT_ENOUGH_MEMBERS &&
      (e.details.shortfalls as { memberId: string; secret: string; needed: number; available: number }[]).some(
        (s) => s.memberId === 'm0' && s.secret === 'maskKey' && s.needed === 2 && s.available === 1,
      ),
  );
});

test('too many dropouts before masked input: the round stops early', () => {
  const config = makeSecAggConfig({ memberIds: ids(10), vectorLength: 4 }); // k = 8, t = 5
  const updates = makeUpdates(config.memberIds, 4, { seed: 3, range: 1, maxWeight: 1 });
  assert.throws(
    () => simulateSecAgg({ config, update: (id) => updates.get(id)!, dropouts: { collectMaskedVectors: ids(6) } }),
    (e: ConcordError) => e.code === ErrorCode.NOT_ENOUGH_MEMBERS && /only 4 members remain after collectMaskedVectors/.test(e.message) && e.details.expected === '>= 5',
  );
  assert.throws(
    () => simulateSecAgg({ config, update: (id) => updates.get(id)!, dropouts: { setup: ids(9) } }),
    (e: ConcordError) => e.code === ErrorCode.NOT_ENOUGH_MEMBERS && /after setup/.test(e.message),
  );
});

test('a member refuses to reveal both shares of one peer, and then anything else', () => {
  const config = makeSecAggConfig({ memberIds: ids(6), vectorLength: 8, roundSeed: seed(3) });
  const updates = makeUpdates(config.memberIds, 8, { seed: 4, range: 1, maxWeight: 1 });
  const { members, server } = driveToUnmask(config, updates);
  const m1 = members.get('m1')!;
  const peer = server.neighboursOf('m1')[0]!;
  const malicious = { stage: 'unmask', roundSeed: config.roundSeed, survivors: ['m1', peer], dropped: [peer] };
  assert.throws(
    () => m1.handle(malicious),
    (e: ConcordError) => e.code === ErrorCode.FORBIDDEN && e.details.field === 'dropped[0]' && e.details.received === peer && /both the self-mask share and the mask-key share/.test(e.message),
  );
  assert.equal(m1.stage, 'aborted');
  assert.throws(() => m1.handle({ ...malicious, dropped: [] }), (e: ConcordError) => e.code === ErrorCode.CONFLICT);
  // Listing the member itself as dropped, or a member whose shares it does not hold.
  const m2 = members.get('m2')!;
  assert.throws(() => m2.handle({ stage: 'unmask', roundSeed: config.roundSeed, survivors: [], dropped: ['m2'] }), (e: ConcordError) => e.code === ErrorCode.FORBIDDEN);
  const m3 = members.get('m3')!;
  const stranger = config.memberIds.find((id) => id !== 'm3' && !server.neighboursOf('m3').includes(id));
  if (stranger) assert.throws(() => m3.handle({ stage: 'unmask', roundSeed: config.roundSeed, survivors: ['m3', stranger], dropped: [] }), (e: ConcordError) => e.code === ErrorCode.INVALID_MESSAGE);
});

test('members check stage order and the round seed', () => {
  const config = makeSecAggConfig({ memberIds: ids(4), vectorLength: 2 });
  const m = new SecAggMember({ memberId: 'm0', primitives: nodePrimitives });
  assert.throws(() => m.handle({ stage: 'shareKeys', roundSeed: config.roundSeed, publicKeys: [] }), (e: ConcordError) => e.code === ErrorCode.CONFLICT && e.details.expected === 'a setup request');
  const other = new SecAggMember({ memberId: 'm1', primitives: nodePrimitives });
  other.handle({ stage: 'setup', config });
  assert.throws(() => other.handle({ stage: 'shareKeys', roundSeed: Buffer.alloc(32, 1).toString('base64'), publicKeys: [] }), (e: ConcordError) => e.code === ErrorCode.STALE_ROUND);
  assert.throws(() => new SecAggMember({ memberId: 'stranger', primitives: nodePrimitives }).handle({ stage: 'setup', config }), (e: ConcordError) => e.code === ErrorCode.FORBIDDEN);
  assert.throws(() => new SecAggMember({ memberId: 'm0', primitives: nodePrimitives }).handle({ stage: 'setup', config: { ...config, threshold: 9 } }), (e: ConcordError) => e.details.field === 'config.threshold');
});

test('the key-signing hook: keys swapped by the server are refused', () => {
  const sign = (memberId: string, payload: Uint8Array) => createHash('sha256').update(memberId).update(payload).digest('base64');
  const authenticator: KeyAuthenticator = { sign, verify: (id, payload, signature) => signature === sign(id, payload) };
  const config = makeSecAggConfig({ memberIds: ids(5), vectorLength: 3 });
  const updates = makeUpdates(config.memberIds, 3, { seed: 6, range: 1, maxWeight: 1 });
  const { result } = simulateSecAgg({ config, update: (id) => updates.get(id)!, keyAuthenticator: authenticator });
  assert.equal(result.contributors.length, 5);

  const server = new SecAggServer(config);
  const members = config.memberIds.map((id) => new SecAggMember({ memberId: id, primitives: nodePrimitives, keyAuthenticator: authenticator }));
  for (const [id, request] of server.start()) server.receive(members[Number(id.slice(1))]!.handle(request));
  const step = server.advance();
  assert.ok(!step.done);
  const request = step.requests.get('m0') as { publicKeys: { memberId: string; maskPublicKey: string }[] };
  const victim = request.publicKeys.find((k) => k.memberId !== 'm0')!;
  victim.maskPublicKey = Buffer.alloc(32, 9).toString('base64');
  assert.throws(() => members[0]!.handle(request), (e: ConcordError) => e.code === ErrorCode.UNAUTHENTICATED && /not signed/.test(e.message));
});

test('the server refuses replies that do not fit the round', () => {
  const config = makeSecAggConfig({ memberIds: ids(4), vectorLength: 3 });
  const server = new SecAggServer(config);
  const members = config.memberIds.map((id) => new SecAggMember({ memberId: id, primitives: nodePrimitives }));
  const requests = server.start();
  const reply = members[0]!.handle(requests.get('m0'));
  server.receive(reply);
  assert.throws(() => server.receive(reply), (e: ConcordError) => e.code === ErrorCode.CONFLICT && e.details.field === 'memberId');
  assert.throws(() => server.receive({ ...reply, memberId: 'intruder' }), (e: ConcordError) => e.code === ErrorCode.FORBIDDEN);
  assert.throws(() => server.receive({ ...reply, roundSeed: Buffer.alloc(32).toString('base64') }), (e: ConcordError) => e.code === ErrorCode.STALE_ROUND);
  assert.throws(() => server.receive({ stage: 'unmask', roundSeed: config.roundSeed, memberId: 'm1', shares: [] }), (e: ConcordError) => e.code === ErrorCode.CONFLICT && e.details.field === 'stage');
  assert.throws(() => server.receive({ stage: 'setup' }), (e: ConcordError) => e.code === ErrorCode.INVALID_MESSAGE);
  for (let i = 1; i < 4; i++) server.receive(members[i]!.handle(requests.get(`m${i}`)));
  let step = server.advance();
  assert.ok(!step.done);
  for (const [id, request] of step.requests) server.receive(members[Number(id.slice(1))]!.handle(request));
  step = server.advance();
  assert.ok(!step.done);
  const masked = members[0]!.handle(step.requests.get('m0'), { data: new Float32Array(3), weight: 1 });
  assert.throws(
    () => server.receive({ ...masked, maskedVector: Buffer.alloc(8).toString('base64') }),
    (e: ConcordError) => e.code === ErrorCode.SHAPE_MISMATCH && e.details.expected === 4 && e.details.received === 2,
  );
  const text = (masked as { maskedVector: string }).maskedVector;
  assert.throws(() => server.receive({ ...masked, maskedVector: `!${text.slice(1)}` }), (e: ConcordError) => e.code === ErrorCode.INVALID_MESSAGE && e.details.field === 'maskedVector');
  server.receive(masked);
});

test('a wrong mask-key share is detected when the dropped member\'s key is rebuilt', () => {
  const config = makeSecAggConfig({ memberIds: ids(5), vectorLength: 4, roundSeed: seed(4) }); // k = 4, t = 3
  const updates = makeUpdates(config.memberIds, 4, { seed: 8, range: 1, maxWeight: 1 });
  const server = new SecAggServer(config);
  const members = new Map(config.memberIds.map((id) => [id, new SecAggMember({ memberId: id, primitives: nodePrimitives })]));
  let requests = server.start() as Map<string, unknown>;
  for (const stage of ['setup', 'shareKeys', 'collectMaskedVectors']) {
    for (const [id, request] of requests) {
      if (stage === 'collectMaskedVectors' && id === 'm4') continue; // m4 drops before its masked vector
      server.receive(members.get(id)!.handle(request, updates.get(id)));
    }
    const step = server.advance();
    assert.ok(!step.done);
    requests = step.requests;
  }
  for (const [id, request] of requests) {
    const reply = members.get(id)!.handle(request) as UnmaskReply;
    // Every survivor is m4's neighbour (k = 4 of 5) and sends one mask-key share; corrupt each.
    const share = reply.shares.find((s) => s.secret === 'maskKey' && s.owner === 'm4')!;
    const bytes = Buffer.from(share.share, 'base64');
    bytes[bytes.length - 1]! ^= 1;
    share.share = bytes.toString('base64');
    server.receive(reply);
  }
  assert.throws(
    () => server.advance(),
    (e: ConcordError) => e.code === ErrorCode.INVALID_MESSAGE && e.details.field === 'shares.m4.maskKey' && /do not rebuild the key it advertised/.test(e.message),
  );
});

test('masked vectors as binary beside the JSON reply give the same sums as base64 inside it; a wrong binary vector is refused', () => {
  const config = makeSecAggConfig({ memberIds: ids(12), vectorLength: 40_003, clippingRange: 1, maxWeight: 100, roundSeed: seed(9) });
  const updates = makeUpdates(config.memberIds, config.vectorLength, { seed: 9, range: 1, maxWeight: 100 });
  const dropouts = { collectMaskedVectors: ['m3'] };
  const base64 = simulateSecAgg({ config, update: (id) => updates.get(id)!, dropouts }).result;
  const sizes: number[] = [];
  const binary = simulateSecAgg({
    config,
    update: (id) => updates.get(id)!,
    dropouts,
    maskedVectors: 'binary',
    onMessage: (direction, _id, message, bytes) => direction === 'reply' && message.stage === 'collectMaskedVectors' && sizes.push(bytes),
  }).result;
  // Masks differ between the two rounds (fresh keys), the exact integer sums do not.
  assert.deepEqual(binary.weightedSum, base64.weightedSum);
  assert.deepEqual(binary.average, base64.average);
  assert.deepEqual(binary.contributors, base64.contributors);
  assert.ok(sizes.length === 11 && sizes.every((b) => b > 4 * (config.vectorLength + 1) && b < 4 * (config.vectorLength + 1) + 300), `sizes ${sizes.join()}`);

  const small = makeSecAggConfig({ memberIds: ids(4), vectorLength: 3, roundSeed: seed(10) });
  const server = new SecAggServer(small);
  const members = small.memberIds.map((id) => new SecAggMember({ memberId: id, primitives: nodePrimitives }));
  let requests: Map<string, SecAggRequest> = server.start();
  for (const [id, request] of requests) server.receive(members[Number(id.slice(1))]!.handle(request));
  for (let i = 0; i < 2; i++) {
    const step = server.advance();
    assert.ok(!step.done);
    requests = step.requests;
    if (i === 0) for (const [id, request] of requests) server.receive(members[Number(id.slice(1))]!.handle(request));
  }
  const { header, maskedVector } = members[0]!.maskVector(requests.get('m0'), { data: new Float32Array(3), weight: 1 });
  assert.throws(() => server.receiveMaskedVector(header, maskedVector.subarray(1)), (e: ConcordError) => e.code === ErrorCode.SHAPE_MISMATCH && e.details.expected === 4 && e.details.received === 3);
  assert.throws(() => server.receiveMaskedVector(header, new Float32Array(4) as unknown as Uint32Array), (e: ConcordError) => e.code === ErrorCode.SHAPE_MISMATCH);
  assert.throws(() => server.receiveMaskedVector({ ...header, roundSeed: Buffer.alloc(32).toString('base64') }, maskedVector), (e: ConcordError) => e.code === ErrorCode.STALE_ROUND);
  server.receiveMaskedVector(header, maskedVector);
  assert.throws(() => server.receiveMaskedVector(header, maskedVector), (e: ConcordError) => e.code === ErrorCode.CONFLICT);
});
