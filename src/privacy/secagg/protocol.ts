// The SecAgg+ wire: configuration, the four request/reply pairs, and their encodings.
// Stages follow Bonawitz et al. 2017 (Practical Secure Aggregation, CCS, Fig. 4) with the
// sparse neighbour graph of Bell et al. 2020 (SecAgg+, arXiv 2005.05349), named as in
// Flower's SecAgg+ (setup → shareKeys → collectMaskedVectors → unmask):
//
//   setup                 server → all: config (N, k, t, quantization, round seed, member ids)
//                         member → server: two X25519 public keys (c for shares, s for masks)
//   shareKeys             server → u: the public keys of u's neighbours that answered setup
//                         u → server: Shamir shares of b_u and s_u^SK, encrypted per neighbour
//   collectMaskedVectors  server → u: the ciphertexts addressed to u
//                         u → server: y_u = q_u + PRG(b_u) + Σ_{v<u} PRG(s_uv) − Σ_{v>u} PRG(s_uv)
//   unmask                server → u: which neighbours survived, which dropped
//                         u → server: shares of b for survivors, of s^SK for dropped members
//
// Messages are plain JSON: bytes travel as base64, ring vectors as base64 of little-endian
// uint32, and there are no bigints. Every request and reply carries the round seed, which
// names the round, so a message from another round is refused as stale.
//
// Threat model (Bonawitz et al. §6; Bell et al. §3), honest-but-curious server: it follows
// the protocol — including choosing the round seed at random and reporting dropouts
// truthfully — but tries to learn individual inputs from everything it receives, possibly
// together with some colluding members. What it receives: public keys, ciphertexts it cannot
// open (keys.ts), masked vectors that are uniform in the ring, and t shares of b_u for each
// survivor u or of s_u^SK for each dropped u — never both, which every member enforces.
//  - The server with fewer than t colluding members learns nothing of any b_u or s_u^SK
//    beyond what the protocol releases: t − 1 Shamir shares carry no information.
//  - The server then knows b_u of survivors, so y_u − PRG(b_u) is hidden only by u's pairwise
//    masks. Pairwise masks with honest neighbours cancel only in sums, so the server learns
//    the sum of the inputs over each connected part of the graph of honest contributors —
//    with the complete graph (k = N − 1) just the total. In SecAgg+ a coalition that
//    contains all k neighbours of u knows every s_uv and so learns u's input; the random
//    relabelling (graph.ts) makes that unlikely for a fixed coalition (≈ γ^k for a fraction
//    γ of colluders), which is Bell et al.'s argument for k = O(log N). Raise k where larger
//    coalitions are feared.
// Not covered: a server that lies about who dropped, telling different members different
// stories (Bonawitz et al.'s active-security variant adds signed keys and a consistency
// round; `KeyAuthenticator` is the hook for signatures), or that picks the round seed to
// shape the graph; members that send wrong shares or out-of-range inputs (a wrong mask-key
// share is detected, a wrong self-mask share is not); and what the sum itself reveals
// (differential privacy's job).

import { z } from 'zod';
import { ConcordError, ErrorCode } from '../../protocol/errors.js';
import { parseMessage } from '../../protocol/messages.js';
import { decodeBase64, encodeBase64 } from './base64.js';
import { defaultNeighbourCount, defaultThreshold } from './graph.js';
import { secureRandomBytes, utf8Bytes } from './primitives.js';
import { RING_BITS, assertNoOverflow, defaultQuantizationBits } from './quantize.js';

export const SECAGG_VERSION = 1;
export const ROUND_SEED_BYTES = 32;
export const STAGES = ['setup', 'shareKeys', 'collectMaskedVectors', 'unmask'] as const;
export type SecAggStage = (typeof STAGES)[number];

// Base64 is checked where it is decoded (fromBase64): a regular expression over a 5 MB
// masked vector costs more than decoding and summing it.
const base64 = z.string();
const memberId = z.string().min(1).max(256);

export const SecAggConfigSchema = z.object({
  version: z.literal(SECAGG_VERSION),
  /** 32 public random bytes: fixes the neighbour graph and salts every key derivation. */
  roundSeed: base64,
  /** Members sampled for the round; the position in this list is the member's index. */
  memberIds: z.array(memberId).min(2),
  /** k: neighbours per member. */
  neighbours: z.number().int().min(1),
  /** t: shares needed to reconstruct a secret. */
  threshold: z.number().int().min(2),
  /** P: parameters per update; masked vectors hold P + 1 ring elements (the weight last). */
  vectorLength: z.number().int().min(0).max(2 ** 31 - 2),
  clippingRange: z.number().finite().positive(),
  bits: z.number().int(),
  maxWeight: z.number().finite().positive(),
  /** The ring is Z_{2^modulusBits}; only 32 is supported. */
  modulusBits: z.literal(RING_BITS),
  /**
   * fixed-point (absent): members send weighted float updates, quantized (quantize.ts).
   * integer: members send ring elements below 2^(bits−1) as they are, with weight 1, and the
   * server returns the exact element-wise sum (federated analytics, analytics/fixed-point.ts).
   */
  encoding: z.enum(['fixed-point', 'integer']).optional(),
});
export type SecAggConfig = z.infer<typeof SecAggConfigSchema>;

const advertisedKeys = z.object({
  memberId,
  encryptionPublicKey: base64,
  maskPublicKey: base64,
  signature: z.string().optional(),
});
export type AdvertisedKeys = z.infer<typeof advertisedKeys>;

export const SetupRequestSchema = z.object({ stage: z.literal('setup'), config: SecAggConfigSchema });
export const SetupReplySchema = advertisedKeys.extend({ stage: z.literal('setup'), roundSeed: base64 });
export const ShareKeysRequestSchema = z.object({ stage: z.literal('shareKeys'), roundSeed: base64, publicKeys: z.array(advertisedKeys) });
export const ShareKeysReplySchema = z.object({
  stage: z.literal('shareKeys'),
  roundSeed: base64,
  memberId,
  shares: z.array(z.object({ to: memberId, ciphertext: base64 })),
});
export const CollectMaskedVectorsRequestSchema = z.object({
  stage: z.literal('collectMaskedVectors'),
  roundSeed: base64,
  ciphertexts: z.array(z.object({ from: memberId, ciphertext: base64 })),
});
export const CollectMaskedVectorsReplySchema = z.object({ stage: z.literal('collectMaskedVectors'), roundSeed: base64, memberId, maskedVector: base64 });
/** The same reply when the masked vector travels beside it as binary (a frame's uint32 tensor), not as base64 in it. */
export const MaskedVectorHeaderSchema = CollectMaskedVectorsReplySchema.omit({ maskedVector: true });
export const UnmaskRequestSchema = z.object({ stage: z.literal('unmask'), roundSeed: base64, survivors: z.array(memberId), dropped: z.array(memberId) });
export const UnmaskReplySchema = z.object({
  stage: z.literal('unmask'),
  roundSeed: base64,
  memberId,
  shares: z.array(z.object({ owner: memberId, secret: z.enum(['selfMask', 'maskKey']), share: base64 })),
});

export type SetupRequest = z.infer<typeof SetupRequestSchema>;
export type SetupReply = z.infer<typeof SetupReplySchema>;
export type ShareKeysRequest = z.infer<typeof ShareKeysRequestSchema>;
export type ShareKeysReply = z.infer<typeof ShareKeysReplySchema>;
export type CollectMaskedVectorsRequest = z.infer<typeof CollectMaskedVectorsRequestSchema>;
export type CollectMaskedVectorsReply = z.infer<typeof CollectMaskedVectorsReplySchema>;
export type MaskedVectorHeader = z.infer<typeof MaskedVectorHeaderSchema>;
export type UnmaskRequest = z.infer<typeof UnmaskRequestSchema>;
export type UnmaskReply = z.infer<typeof UnmaskReplySchema>;
export type SecAggRequest = SetupRequest | ShareKeysRequest | CollectMaskedVectorsRequest | UnmaskRequest;
export type SecAggReply = SetupReply | ShareKeysReply | CollectMaskedVectorsReply | UnmaskReply;

export const SecAggRequestSchema = z.discriminatedUnion('stage', [SetupRequestSchema, ShareKeysRequestSchema, CollectMaskedVectorsRequestSchema, UnmaskRequestSchema]);
export const SecAggReplySchema = z.discriminatedUnion('stage', [SetupReplySchema, ShareKeysReplySchema, CollectMaskedVectorsReplySchema, UnmaskReplySchema]);

/** Signing of advertised keys — a governance concern; absent, keys travel unsigned. */
export interface KeyAuthenticator {
  /** A signature by `memberId` over `payload` (the bytes of keyPayload). */
  sign(memberId: string, payload: Uint8Array): string;
  /** Whether `signature` is `memberId`'s signature over `payload`. */
  verify(memberId: string, payload: Uint8Array, signature: string | undefined): boolean;
}

/** The bytes a member signs: round seed, member id and both public keys, length-prefixed. */
export function keyPayload(roundSeed: string, keys: Pick<AdvertisedKeys, 'memberId' | 'encryptionPublicKey' | 'maskPublicKey'>): Uint8Array {
  const parts = [roundSeed, keys.memberId, keys.encryptionPublicKey, keys.maskPublicKey].map(utf8Bytes);
  const out = new Uint8Array(parts.reduce((n, p) => n + 4 + p.length, 0));
  const view = new DataView(out.buffer);
  let at = 0;
  for (const p of parts) {
    view.setUint32(at, p.length, true);
    out.set(p, at + 4);
    at += 4 + p.length;
  }
  return out;
}

export interface SecAggOptions {
  memberIds: readonly string[];
  /** P: parameters per update. */
  vectorLength: number;
  /** Public round seed. Default 32 fresh random bytes. */
  roundSeed?: Uint8Array;
  /** k. Default min(N − 1, ⌈2·log2 N⌉ rounded up to even) — see graph.ts. */
  neighbours?: number;
  /** t. Default ⌊(k + 1)/2⌋ + 1, a strict majority of each secret's k + 1 holders. */
  threshold?: number;
  /** Updates are clipped to ±clippingRange. Default 8. */
  clippingRange?: number;
  /** Fixed-point bits per member. Default 32 − ⌈log2 N⌉, the most that cannot overflow. */
  bits?: number;
  /** Largest member weight (e.g. the largest numExamples). Default 1. */
  maxWeight?: number;
  /** Default fixed-point; integer sums ring elements exactly (see SecAggConfigSchema). */
  encoding?: 'fixed-point' | 'integer';
}

/** A validated configuration with the documented defaults filled in. */
export function makeSecAggConfig(options: SecAggOptions): SecAggConfig {
  const n = options.memberIds.length;
  const neighbours = options.neighbours ?? defaultNeighbourCount(n);
  const config: SecAggConfig = {
    version: SECAGG_VERSION,
    roundSeed: toBase64(options.roundSeed ?? secureRandomBytes(ROUND_SEED_BYTES)),
    memberIds: [...options.memberIds],
    neighbours,
    threshold: options.threshold ?? defaultThreshold(neighbours),
    vectorLength: options.vectorLength,
    clippingRange: options.clippingRange ?? 8,
    bits: options.bits ?? defaultQuantizationBits(n),
    maxWeight: options.maxWeight ?? 1,
    modulusBits: RING_BITS,
    ...(options.encoding === 'integer' ? { encoding: 'integer' as const } : {}),
  };
  return validateSecAggConfig(config);
}

/** Parses and checks a configuration received from the wire. */
export function validateSecAggConfig(value: unknown, field = 'config'): SecAggConfig {
  const config = parseMessage(SecAggConfigSchema, value, `SecAgg+ ${field}`);
  const invalid = (name: string, message: string, expected: unknown, received: unknown) =>
    new ConcordError(ErrorCode.INVALID_ARGUMENT, `${field}.${name} ${message}`, { details: { field: `${field}.${name}`, expected, received } });
  const n = config.memberIds.length;
  const seen = new Set<string>();
  config.memberIds.forEach((id, i) => {
    if (seen.has(id)) throw invalid(`memberIds[${i}]`, `repeats member ${JSON.stringify(id)}; each member takes part once`, 'distinct ids', id);
    seen.add(id);
  });
  if (fromBase64(config.roundSeed, `${field}.roundSeed`).length !== ROUND_SEED_BYTES) {
    throw invalid('roundSeed', `must be ${ROUND_SEED_BYTES} bytes`, ROUND_SEED_BYTES, config.roundSeed.length);
  }
  if (config.neighbours > n - 1) throw invalid('neighbours', `is ${config.neighbours}; with ${n} members it can be at most ${n - 1}`, `<= ${n - 1}`, config.neighbours);
  if (config.neighbours % 2 === 1 && n % 2 === 1) {
    throw invalid('neighbours', `is odd (${config.neighbours}) with an odd number of members (${n}); no such regular graph exists`, 'even', config.neighbours);
  }
  // Each secret has k + 1 holders: the member and its k neighbours.
  if (config.threshold > config.neighbours + 1) {
    throw invalid('threshold', `is ${config.threshold}; a secret has only ${config.neighbours + 1} holders (k + 1)`, `<= ${config.neighbours + 1}`, config.threshold);
  }
  assertNoOverflow(config, n, field);
  return config;
}

export function toBase64(bytes: Uint8Array): string {
  return encodeBase64(bytes);
}

/** Strict base64 (base64.ts): anything else is refused, naming the field. */
export function fromBase64(text: string, field: string, expectedBytes?: number): Uint8Array {
  const bytes = decodeBase64(text);
  if (bytes === null) {
    throw new ConcordError(ErrorCode.INVALID_MESSAGE, `${field} is not base64`, { details: { field, expected: 'base64', received: `${text.length} characters` } });
  }
  if (expectedBytes !== undefined && bytes.length !== expectedBytes) {
    throw new ConcordError(ErrorCode.INVALID_MESSAGE, `${field} decodes to ${bytes.length} bytes; expected ${expectedBytes}`, {
      details: { field, expected: expectedBytes, received: bytes.length },
    });
  }
  return bytes;
}

/** A ring vector as base64 of little-endian uint32 (hosts are little-endian, see prg.ts). */
export function encodeRingVector(vector: Uint32Array): string {
  return encodeBase64(new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength));
}

export function decodeRingVector(text: string, length: number, field: string): Uint32Array {
  const bytes = fromBase64(text, field);
  if (bytes.length !== length * 4) {
    throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `${field} holds ${bytes.length / 4} ring elements; expected ${length} (vectorLength + 1 for the weight)`, {
      details: { field, expected: length, received: bytes.length / 4 },
    });
  }
  if (bytes.byteOffset % 4 === 0) return new Uint32Array(bytes.buffer, bytes.byteOffset, length);
  return new Uint32Array(bytes.slice().buffer, 0, length);
}

/** Associated data binding an encrypted share to its sender and recipient. */
export function shareAssociatedData(from: string, to: string): Uint8Array {
  return utf8Bytes(`concord-secagg-share\u0000${from}\u0000${to}`);
}

/** The plaintext of one encrypted share pair: u16 length of each share, then the bytes. */
export function encodeSharePair(selfMask: Uint8Array, maskKey: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + selfMask.length + maskKey.length);
  const view = new DataView(out.buffer);
  view.setUint16(0, selfMask.length, true);
  out.set(selfMask, 2);
  view.setUint16(2 + selfMask.length, maskKey.length, true);
  out.set(maskKey, 4 + selfMask.length);
  return out;
}

export function decodeSharePair(bytes: Uint8Array, field: string): { selfMask: Uint8Array; maskKey: Uint8Array } {
  const bad = () =>
    new ConcordError(ErrorCode.INVALID_MESSAGE, `${field} is not a pair of length-prefixed shares`, { details: { field, expected: 'u16 length + share, twice', received: bytes.length } });
  if (bytes.length < 4) throw bad();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const a = view.getUint16(0, true);
  if (2 + a + 2 > bytes.length) throw bad();
  const b = view.getUint16(2 + a, true);
  if (4 + a + b !== bytes.length) throw bad();
  return { selfMask: bytes.slice(2, 2 + a), maskKey: bytes.slice(4 + a) };
}
