// The round owner's side of hierarchical aggregation (Bonawitz et al. 2019's "Master
// Aggregator"): it deals a round's updates out to S shards (assignShards: by member id, group
// sizes within one of each other), publishes each to its shard's work queue, closes each shard
// with the list of members to sum, waits for the S partials and combines them
// (combinePartials: Σ_s P_s / Σ_s N_s in float64). Central differential-privacy noise, when
// asked for, is added here once, to the combined sum — never in a shard, so the released
// average carries exactly one draw of N(0, σ²) per coordinate whatever S is. Under
// client-level DP the shards clip each delta (clippingNorm) and the round's DP wrapper adds
// that one draw to the clipped sum (coordinator/hierarchical-round.ts).
//
// A minimum group size bounds what any one shard learns: a shard's partial is the sum of at
// least `minGroupSize` members (with secure aggregation per group, the only sum its aggregator
// can unmask). With K updates the round uses min(S, ⌊K / minGroupSize⌋) groups; fewer than
// minGroupSize updates in all is refused with NOT_ENOUGH_MEMBERS.

import { randomUUID } from 'node:crypto';
import { AckPolicy, DeliverPolicy } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { blobOf, dropBlob, encodeToken, openJetStream, publishPayload, readPayload, type JetStreamLink } from './jetstream.js';
import { assignShards, combinePartials, decodePartial, float32Bytes, type CombineOptions, type Combined, type ShardPartial, type ShardUpdate } from './partial.js';
import type { SecAggConfig } from '../privacy/secagg/protocol.js';
import { HEADERS, PARTIAL_STREAM, declareAggregationStreams, partialsOf, updateSubject } from './streams.js';

export interface MasterAggregatorOptions {
  servers: string | readonly string[];
  /** Shard aggregators running (`concord aggregator --shard 0 … S-1`). */
  shards: number;
  /** Smallest group one shard may sum. Default 1. */
  minGroupSize?: number;
  /** How long to wait for every shard's partial before the round fails. Default 600 000 ms. */
  partialTimeoutMs?: number;
}

export interface AggregateRequest {
  runId: string;
  round: number;
  updates: readonly ShardUpdate[];
  signal?: AbortSignal;
  /** Central DP noise on the combined sum and a fixed denominator (partial.ts CombineOptions). */
  combine?: CombineOptions;
  /** Client-level DP: `updates` are deltas of weight 1 and every shard clips each to this L2 norm (partial.ts). */
  clippingNorm?: number;
  /** Called once every update is published and before any shard is closed (tests stop an aggregator here). */
  beforeClose?: (groups: string[][], aggregation: string) => Promise<void>;
}

export interface ShardedOutcome extends Combined {
  /** The members each shard summed, by shard index. */
  groups: string[][];
  partials: ShardPartial[];
  /** Wall time from the first publish to the combined result. */
  seconds: number;
}

export class MasterAggregator {
  private constructor(
    private readonly link: JetStreamLink,
    readonly shards: number,
    readonly minGroupSize: number,
    private readonly partialTimeoutMs: number,
  ) {}

  static async open(options: MasterAggregatorOptions): Promise<MasterAggregator> {
    if (!Number.isInteger(options.shards) || options.shards < 1) throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `shards is ${options.shards}; expected an integer >= 1`, { details: { field: 'shards', expected: 'integer >= 1', received: options.shards } });
    const min = options.minGroupSize ?? 1;
    if (!Number.isInteger(min) || min < 1) throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `minGroupSize is ${min}; expected an integer >= 1`, { details: { field: 'minGroupSize', expected: 'integer >= 1', received: min } });
    const link = await openJetStream(options.servers, { name: 'concord-master-aggregator' });
    try {
      await declareAggregationStreams(link);
    } catch (error) {
      await link.close();
      throw error;
    }
    return new MasterAggregator(link, options.shards, min, options.partialTimeoutMs ?? 600_000);
  }

  /** The groups a round of these members would be summed in (the shard of each, by index). */
  groupsFor(memberIds: readonly string[]): string[][] {
    const k = new Set(memberIds).size;
    if (k < this.minGroupSize) {
      throw new ConcordError(ErrorCode.NOT_ENOUGH_MEMBERS, `${k} updates cannot be summed in groups of at least ${this.minGroupSize}; the round needs ${this.minGroupSize}`, { details: { field: 'minGroupSize', expected: `>= ${this.minGroupSize} updates`, received: k } });
    }
    return assignShards(memberIds, Math.max(1, Math.min(this.shards, Math.floor(k / this.minGroupSize))));
  }

  async aggregate(request: AggregateRequest): Promise<ShardedOutcome> {
    const started = Date.now();
    const signal = request.signal ?? new AbortController().signal;
    const groups = this.groupsFor(request.updates.map((u) => u.memberId));
    const byId = new Map(request.updates.map((u) => [u.memberId, u]));
    const length = request.updates[0]!.data.length;
    const aggregation = await this.begin({ runId: request.runId, round: request.round, groups });
    try {
      for (let s = 0; s < groups.length; s++) {
        const group = groups[s]!;
        // A bounded number in flight: enough to fill the pipe, not the memory.
        for (let i = 0; i < group.length; i += 16) {
          await Promise.all(group.slice(i, i + 16).map((id) => aggregation.publish(s, { memberId: id, kind: 'update', weight: byId.get(id)!.weight, bytes: float32Bytes(byId.get(id)!.data) })));
          if (signal.aborted) throw stopped();
        }
      }
      await request.beforeClose?.(groups, aggregation.id);
      for (let s = 0; s < groups.length; s++) {
        await aggregation.close(s, { members: groups[s]!, length, ...(request.clippingNorm !== undefined ? { clippingNorm: request.clippingNorm } : {}) });
      }
      const partials = await aggregation.collect(signal);
      const combined = combinePartials(partials, request.combine);
      return { ...combined, groups, partials, seconds: (Date.now() - started) / 1000 };
    } finally {
      await aggregation.dispose();
    }
  }

  /**
   * One aggregation, step by step, for a caller that publishes updates as they come (secure
   * aggregation per shard group publishes masked vectors while the protocol runs and closes
   * each group with its masks once unmasking is done). Dispose of it in every case.
   */
  async begin(options: { runId: string; round: number; groups: string[][] }): Promise<ShardedAggregation> {
    const id = randomUUID().replace(/-/g, '');
    const consumer = `master-${id}`;
    // Made before any update is published, so that no partial can be missed.
    await this.link.jsm.consumers.add(PARTIAL_STREAM, { durable_name: consumer, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, filter_subject: partialsOf(id), inactive_threshold: nanos(3600_000) });
    return new ShardedAggregation(this.link, id, consumer, options.runId, options.round, options.groups, this.partialTimeoutMs);
  }

  async close(): Promise<void> {
    await this.link.close();
  }
}

/** What a shard is closed with: the members to sum and how (shard-aggregator.ts reads it). */
export interface ShardClose {
  members: string[];
  /** Values in the shard's partial (the model's parameters). */
  length: number;
  clippingNorm?: number;
  /** Secure aggregation per group: the members' masked vectors are summed and these masks taken off. */
  secure?: { config: SecAggConfig; masks: { seed: string; sign: 1 | -1 }[] };
}

export class ShardedAggregation {
  private readonly blobs: string[] = [];
  private readonly closed = new Map<number, ShardClose>();

  constructor(
    private readonly link: JetStreamLink,
    /** The aggregation's id, fresh for every attempt of every round. */
    readonly id: string,
    private readonly consumer: string,
    private readonly runId: string,
    private readonly round: number,
    readonly groups: string[][],
    private readonly partialTimeoutMs: number,
  ) {}

  private common(): Record<string, string> {
    return { [HEADERS.aggregation]: this.id, [HEADERS.run]: this.runId, [HEADERS.round]: String(this.round) };
  }

  /** One member's update (float32 values) or masked vector (uint32 ring elements) for shard s. */
  async publish(s: number, u: { memberId: string; kind: 'update' | 'masked'; weight: number; bytes: Uint8Array }): Promise<void> {
    const p = await publishPayload(this.link, updateSubject(s), { ...this.common(), [HEADERS.kind]: u.kind, [HEADERS.member]: u.memberId, [HEADERS.weight]: String(u.weight) }, u.bytes, {
      blobName: `${u.kind}.${this.id}.${encodeToken(u.memberId)}`,
      msgId: `${u.kind}.${this.id}.${u.memberId}`,
    });
    if (p.blob) this.blobs.push(p.blob);
  }

  /** Tells shard s which members to sum, and how; it publishes its partial once it holds them all. */
  async close(s: number, body: ShardClose): Promise<void> {
    this.closed.set(s, body);
    const p = await publishPayload(this.link, updateSubject(s), { ...this.common(), [HEADERS.kind]: 'close' }, Buffer.from(JSON.stringify(body)), { blobName: `close.${this.id}.${s}`, msgId: `close.${this.id}.${s}` });
    if (p.blob) this.blobs.push(p.blob);
  }

  /** Waits for the partial of every closed shard and checks each against what it was closed with. */
  async collect(signal: AbortSignal): Promise<ShardPartial[]> {
    const consumer = await this.link.js.consumers.get(PARTIAL_STREAM, this.consumer);
    const got = new Map<number, ShardPartial>();
    const deadline = Date.now() + this.partialTimeoutMs;
    while (got.size < this.closed.size) {
      if (signal.aborted) throw stopped();
      if (Date.now() > deadline) {
        const missing = [...this.closed.keys()].filter((s) => !got.has(s));
        throw new ConcordError(ErrorCode.UNAVAILABLE, `no partial from shard${missing.length > 1 ? 's' : ''} ${missing.join(', ')} within ${this.partialTimeoutMs} ms; is \`concord aggregator --shard ${missing[0]}\` running?`, { details: { field: 'shards', expected: this.closed.size, received: got.size } });
      }
      const m = await consumer.next({ expires: 2_000 });
      if (!m) continue;
      const blob = blobOf(m.headers);
      if (blob) this.blobs.push(blob);
      const partial = decodePartial(await readPayload(this.link, m.headers, m.data));
      m.ack();
      const expected = this.closed.get(partial.shard);
      if (!expected || got.has(partial.shard)) continue;
      if (partial.weightedSum.length !== expected.length || partial.members.length !== expected.members.length || partial.members.some((id, i) => id !== expected.members[i])) {
        throw new ConcordError(ErrorCode.INTERNAL, `shard ${partial.shard}'s partial sums ${partial.members.length} members of length ${partial.weightedSum.length}; it was closed with ${expected.members.length} of length ${expected.length}`);
      }
      if (partial.extra.clippingNorm !== expected.clippingNorm) {
        // Fail closed: a sum of unclipped updates has no DP sensitivity bound.
        throw new ConcordError(ErrorCode.INTERNAL, `shard ${partial.shard}'s partial was clipped to ${String(partial.extra.clippingNorm ?? 'nothing')}, the round asked for ${String(expected.clippingNorm ?? 'no clipping')}; is its \`concord aggregator\` older than this coordinator?`);
      }
      if ((partial.extra.secure === true) !== (expected.secure !== undefined)) {
        throw new ConcordError(ErrorCode.INTERNAL, `shard ${partial.shard}'s partial ${partial.extra.secure === true ? 'unmasked' : 'did not unmask'} a secure sum, the round asked for ${expected.secure ? 'one' : 'a plain sum'}; is its \`concord aggregator\` older than this coordinator?`);
      }
      got.set(partial.shard, partial);
    }
    return [...got.values()];
  }

  async dispose(): Promise<void> {
    await this.link.jsm.consumers.delete(PARTIAL_STREAM, this.consumer).catch(() => undefined);
    await this.link.jsm.streams.purge(PARTIAL_STREAM, { filter: partialsOf(this.id) }).catch(() => undefined);
    for (const b of this.blobs) await dropBlob(this.link, b);
  }
}

function stopped(): ConcordError {
  return new ConcordError(ErrorCode.UNAVAILABLE, 'stopped while aggregating');
}
