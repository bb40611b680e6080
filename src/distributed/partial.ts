// Hierarchical FedAvg arithmetic (after Bonawitz et al. 2019, "Towards Federated Learning at
// Scale", arXiv 1902.01046: shard aggregators each sum their members' updates, a master
// aggregator sums the shards). A shard's partial is P_s = Σ_{k∈s} n_k θ_k and N_s = Σ_{k∈s} n_k;
// the round's model is θ = Σ_s P_s / Σ_s N_s — FedAvg's Σ_k (n_k / n) θ_k regrouped.
//
// Exactness. Every sum is taken in float64, in a fixed order (a shard's members by id, the
// shards by index), so for a given assignment of members to shards the result does not depend
// on arrival order, on redelivery or on which process did the work: it is bit-for-bit
// reproducible. Against the exact value E_i = Σ_k n_k θ_k,i / n it errs by at most
// ½ ulp₃₂(E_i) (the one rounding to float32) plus K·2⁻⁵³·A_i, where A_i = Σ_k n_k |θ_k,i| / n.
// Flat aggregation (core/aggregate.ts weightedAverage, the SIMD kernel) sums groups of 16
// products in float32 and carries float64 across groups, so it errs by up to about
// 16·2⁻²⁴·A_i + ½ ulp₃₂. The two therefore agree to within (16·2⁻²⁴ + K·2⁻⁵³)·A_i + 1 ulp₃₂ —
// where the members' values cancel (A_i ≫ |E_i|) that is many ulps of a tiny result, and it is
// the flat path that is off: test/hierarchical-aggregation.test.ts checks both bounds.
//
// Under client-level DP the shards clip: the round owner sends deltas, each shard sums
// min(1, C/‖Δ_k‖)·Δ_k (ShardPartialOptions), and the noise is drawn once, on the total.

import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { checkClippingNorm, clipFactor, l2Norm } from '../privacy/dp/clip.js';
import type { SignedMask } from '../privacy/secagg/prg.js';
import { type SecAggConfig, validateSecAggConfig } from '../privacy/secagg/protocol.js';
import { addInto } from '../privacy/secagg/prg.js';
import { decodeRingSum, unmaskRingSum } from '../privacy/secagg/server.js';

export interface ShardUpdate {
  memberId: string;
  /** n_k: the member's example count (FedAvg weight), finite and ≥ 0. */
  weight: number;
  data: Float32Array;
}

export interface ShardPartial {
  shard: number;
  /** Σ n_k θ_k over the shard's members, in float64. */
  weightedSum: Float64Array;
  /** Σ n_k. */
  totalWeight: number;
  /** The members summed, sorted by id. */
  members: string[];
}

const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Members assigned to shards for one round: sorted by id and dealt out in turn, so group
 * sizes differ by at most one (what a minimum group size for secure aggregation needs).
 */
export function assignShards(memberIds: readonly string[], shards: number): string[][] {
  if (!Number.isInteger(shards) || shards < 1) throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `shards is ${shards}; expected an integer >= 1`, { details: { field: 'shards', expected: 'integer >= 1', received: shards } });
  const groups: string[][] = Array.from({ length: shards }, () => []);
  [...new Set(memberIds)].sort(byId).forEach((id, i) => groups[i % shards]!.push(id));
  return groups;
}

export interface ShardPartialOptions {
  /**
   * Client-level DP with hierarchical aggregation: each update is a delta Δ_k = θ_k − θ, is
   * scaled by min(1, C/‖Δ_k‖) (its L2 norm in float64) and weighs 1, so P_s = Σ clip(Δ_k)
   * and N_s counts the members; the noise is added once, at the top.
   */
  clippingNorm?: number;
}

/** P_s and N_s of one shard: its members' updates summed in id order, in float64. */
export function shardPartial(shard: number, updates: readonly ShardUpdate[], options: ShardPartialOptions = {}): ShardPartial {
  const C = options.clippingNorm;
  if (C !== undefined) checkClippingNorm(C, 'clippingNorm');
  if (updates.length === 0) throw new ConcordError(ErrorCode.NOT_ENOUGH_MEMBERS, `shard ${shard} has no updates to sum`, { details: { field: 'updates', expected: '>= 1', received: 0 } });
  const sorted = [...updates].sort((a, b) => byId(a.memberId, b.memberId));
  const length = sorted[0]!.data.length;
  const sum = new Float64Array(length);
  let total = 0;
  for (let k = 0; k < sorted.length; k++) {
    const u = sorted[k]!;
    if (k > 0 && u.memberId === sorted[k - 1]!.memberId) throw new ConcordError(ErrorCode.CONFLICT, `member ${u.memberId} has two updates in shard ${shard}`, { details: { field: 'memberId', received: u.memberId } });
    if (u.data.length !== length) throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `${u.memberId}'s update holds ${u.data.length} values, ${sorted[0]!.memberId}'s holds ${length}`, { details: { field: 'data', expected: length, received: u.data.length } });
    if (!Number.isFinite(u.weight) || u.weight < 0) throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${u.memberId}'s weight is ${u.weight}; expected a finite number >= 0`, { details: { field: 'weight', expected: '>= 0', received: u.weight } });
    if (C !== undefined && u.weight !== 1) throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${u.memberId}'s weight is ${u.weight}; clipped deltas each weigh 1`, { details: { field: 'weight', expected: 1, received: u.weight } });
    const d = u.data;
    const w = C === undefined ? u.weight : clipFactor(l2Norm(d), C);
    for (let i = 0; i < length; i++) sum[i]! += w * d[i]!;
    total += C === undefined ? w : 1;
  }
  return { shard, weightedSum: sum, totalWeight: total, members: sorted.map((u) => u.memberId) };
}

/**
 * A shard's partial under secure aggregation per group: the sum of its members' masked
 * vectors (mod 2^32, so order does not matter and the sum is exact), the group's masks taken
 * off, dequantized. P_s is the group's Σ w·Δ in float64 (each value one float32 rounding off
 * the exact dequantized sum) and N_s its Σ w. The shard never sees an unmasked vector: only
 * the group's sum can be unmasked with these masks.
 */
export function secureShardPartial(shard: number, masked: readonly { memberId: string; ring: Uint32Array }[], secure: { config: SecAggConfig; masks: readonly SignedMask[] }): ShardPartial {
  const config = validateSecAggConfig(secure.config, 'close.secure.config');
  if (masked.length === 0) throw new ConcordError(ErrorCode.NOT_ENOUGH_MEMBERS, `shard ${shard} has no masked vectors to sum`, { details: { field: 'updates', expected: '>= 1', received: 0 } });
  const sorted = [...masked].sort((a, b) => byId(a.memberId, b.memberId));
  const sum = new Uint32Array(config.vectorLength + 1);
  for (let k = 0; k < sorted.length; k++) {
    const m = sorted[k]!;
    if (k > 0 && m.memberId === sorted[k - 1]!.memberId) throw new ConcordError(ErrorCode.CONFLICT, `member ${m.memberId} has two masked vectors in shard ${shard}`, { details: { field: 'memberId', received: m.memberId } });
    if (m.ring.length !== sum.length) throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `${m.memberId}'s masked vector holds ${m.ring.length} ring elements; the group's configuration has ${sum.length}`, { details: { field: 'maskedVector', expected: sum.length, received: m.ring.length } });
    addInto(sum, m.ring);
  }
  unmaskRingSum(config, sum, secure.masks);
  const members = sorted.map((m) => m.memberId);
  const result = decodeRingSum(config, sum, members, { setup: [], shareKeys: [], collectMaskedVectors: [], unmask: [] });
  return { shard, weightedSum: Float64Array.from(result.weightedSum), totalWeight: result.totalWeight, members };
}

export interface CombineOptions {
  /**
   * Central differential privacy, added once here and nowhere below: N(0, stddev²) per
   * coordinate on Σ n_k θ_k before it is divided. `add` draws it (privacy/dp addGaussianNoise).
   */
  noise?: (sum: Float64Array) => void;
  /** Divide by this instead of Σ N_s (DP-FedAvg's fixed denominator). */
  denominator?: number;
}

export interface Combined {
  average: Float32Array;
  /** Σ_s P_s (noised if noise was asked for), float64. */
  weightedSum: Float64Array;
  totalWeight: number;
  members: string[];
}

/** The master aggregator's step: Σ_s P_s / Σ_s N_s, summed in shard order in float64, rounded once. */
export function combinePartials(partials: readonly ShardPartial[], options: CombineOptions = {}): Combined {
  if (partials.length === 0) throw new ConcordError(ErrorCode.NOT_ENOUGH_MEMBERS, 'no shard partials to combine', { details: { field: 'partials', expected: '>= 1', received: 0 } });
  const sorted = [...partials].sort((a, b) => a.shard - b.shard);
  const length = sorted[0]!.weightedSum.length;
  const sum = new Float64Array(length);
  let total = 0;
  const members: string[] = [];
  for (let s = 0; s < sorted.length; s++) {
    const p = sorted[s]!;
    if (s > 0 && p.shard === sorted[s - 1]!.shard) throw new ConcordError(ErrorCode.CONFLICT, `two partials for shard ${p.shard}`, { details: { field: 'shard', received: p.shard } });
    if (p.weightedSum.length !== length) throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `shard ${p.shard}'s partial holds ${p.weightedSum.length} values, shard ${sorted[0]!.shard}'s holds ${length}`, { details: { field: 'weightedSum', expected: length, received: p.weightedSum.length } });
    const v = p.weightedSum;
    for (let i = 0; i < length; i++) sum[i]! += v[i]!;
    total += p.totalWeight;
    members.push(...p.members);
  }
  options.noise?.(sum);
  const denominator = options.denominator ?? total;
  if (!(denominator > 0) || !Number.isFinite(denominator)) throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `the weights sum to ${denominator}; an average needs a positive, finite total weight`, { details: { field: 'totalWeight', expected: '> 0', received: denominator } });
  const average = new Float32Array(length);
  for (let i = 0; i < length; i++) average[i] = sum[i]! / denominator;
  return { average, weightedSum: sum, totalWeight: total, members: members.sort(byId) };
}

/** A partial as bytes: a JSON header line, then the float64 sum little-endian. */
export function encodePartial(p: ShardPartial, extra: Record<string, unknown> = {}): Uint8Array {
  const head = Buffer.from(`${JSON.stringify({ ...extra, shard: p.shard, totalWeight: p.totalWeight, members: p.members, length: p.weightedSum.length })}\n`, 'utf8');
  const out = new Uint8Array(head.byteLength + p.weightedSum.byteLength);
  out.set(head, 0);
  const view = new DataView(out.buffer, out.byteOffset + head.byteLength, p.weightedSum.byteLength);
  for (let i = 0; i < p.weightedSum.length; i++) view.setFloat64(i * 8, p.weightedSum[i]!, true);
  return out;
}

export function decodePartial(bytes: Uint8Array): ShardPartial & { extra: Record<string, unknown> } {
  const nl = bytes.indexOf(10);
  if (nl < 0) throw new ConcordError(ErrorCode.INVALID_MESSAGE, 'a shard partial has no header line', { details: { field: 'partial' } });
  const head = JSON.parse(Buffer.from(bytes.subarray(0, nl)).toString('utf8')) as Record<string, unknown>;
  const length = head.length;
  if (typeof length !== 'number' || bytes.byteLength - nl - 1 !== length * 8) throw new ConcordError(ErrorCode.INVALID_MESSAGE, `a shard partial declares ${String(length)} values but carries ${(bytes.byteLength - nl - 1) / 8}`, { details: { field: 'partial.length', expected: length, received: (bytes.byteLength - nl - 1) / 8 } });
  const view = new DataView(bytes.buffer, bytes.byteOffset + nl + 1, length * 8);
  const sum = new Float64Array(length);
  for (let i = 0; i < length; i++) sum[i] = view.getFloat64(i * 8, true);
  const { shard, totalWeight, members, length: _l, ...extra } = head;
  return { shard: shard as number, totalWeight: totalWeight as number, members: members as string[], weightedSum: sum, extra };
}

/** Uint32 ring elements from little-endian bytes (masked vectors on the wire between processes). */
export function bytesUint32(bytes: Uint8Array): Uint32Array {
  if (bytes.byteLength % 4 !== 0) throw new ConcordError(ErrorCode.INVALID_MESSAGE, `a masked vector of ${bytes.byteLength} bytes is not whole uint32 ring elements`, { details: { field: 'maskedVector' } });
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Uint32Array(bytes.byteLength / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getUint32(i * 4, true);
  return out;
}

/** A float32 vector as little-endian bytes, and back (updates on the wire between processes). */
export function float32Bytes(data: Float32Array): Uint8Array {
  const out = new Uint8Array(data.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i]!, true);
  return out;
}

export function bytesFloat32(bytes: Uint8Array): Float32Array {
  if (bytes.byteLength % 4 !== 0) throw new ConcordError(ErrorCode.INVALID_MESSAGE, `an update of ${bytes.byteLength} bytes is not whole float32 values`, { details: { field: 'update' } });
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(bytes.byteLength / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}
