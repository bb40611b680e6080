// A shard aggregator (Bonawitz et al. 2019's "Aggregator"): a process that pulls its shard's
// updates from the CONCORD_UPDATES work queue, waits for the round owner's "close" naming the
// members to sum, publishes the shard's partial (Σ n_k θ_k in float64, Σ n_k, member ids) and
// only then acknowledges the updates. Killed at any point before that, it has acknowledged
// nothing: after ackWait every message goes to another aggregator of the same shard (or to
// this one restarted), which computes the same partial bit for bit — the sum is taken in member
// id order, not arrival order (partial.ts). Killed after publishing, its partial is published
// again under the same message id, which JetStream drops as a duplicate.
//
// Several processes may serve one shard (the durable consumer shards-<i> is shared); one
// aggregation's messages then may be split between them, and each waits for the rest, which
// come back once ackWait passes. Run one per shard and restart it, or more for fail-over.

import type { JsMsg } from '@nats-io/jetstream';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { blobOf, dropBlob, header, keepAlive, openJetStream, publishPayload, readPayload, type JetStreamLink } from './jetstream.js';
import { bytesFloat32, bytesUint32, encodePartial, secureShardPartial, shardPartial } from './partial.js';
import type { ShardClose } from './master-aggregator.js';
import { fromBase64 } from '../privacy/secagg/protocol.js';
import { HEADERS, PARTIAL_STREAM, UPDATE_STREAM, declareAggregationStreams, declareShardConsumer, partialSubject, type ShardQueueOptions } from './streams.js';

export interface ShardAggregatorOptions extends ShardQueueOptions {
  servers: string | readonly string[];
  shard: number;
  signal: AbortSignal;
  onEvent?: (event: ShardEvent) => void;
}

export type ShardEvent =
  | { event: 'ready'; shard: number }
  | { event: 'update'; shard: number; aggregation: string; memberId: string; delivery: number }
  | { event: 'partial'; shard: number; aggregation: string; runId: string; round: number; members: number; totalWeight: number }
  | { event: 'dropped'; shard: number; aggregation: string; reason: string };

interface Pending {
  runId: string;
  round: number;
  /** Each member's payload as it came: float32 values ('update') or uint32 ring elements ('masked'). */
  updates: Map<string, { kind: 'update' | 'masked'; weight: number; bytes: Uint8Array; msg: JsMsg }>;
  /** Redelivered copies of messages already held: acknowledged with the rest. */
  extra: JsMsg[];
  close?: { msg: JsMsg; body: ShardClose };
}

const DONE_MEMORY = 10_000;

export async function runShardAggregator(options: ShardAggregatorOptions): Promise<{ partials: number }> {
  const { shard } = options;
  if (!Number.isInteger(shard) || shard < 0) throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `shard is ${shard}; expected an integer >= 0`, { details: { field: 'shard', expected: 'integer >= 0', received: shard } });
  const link = await openJetStream(options.servers, { name: `concord-shard-${shard}` });
  let partials = 0;
  try {
    await declareAggregationStreams(link);
    const durable = await declareShardConsumer(link, shard, options);
    const consumer = await link.js.consumers.get(UPDATE_STREAM, durable);
    const ackWaitMs = ((await consumer.info(true)).config.ack_wait ?? 30e9) / 1e6;
    const pending = new Map<string, Pending>();
    const done = new Set<string>();
    const held = function* (): Iterable<JsMsg> {
      for (const p of pending.values()) {
        for (const u of p.updates.values()) yield u.msg;
        yield* p.extra;
        if (p.close) yield p.close.msg;
      }
    };
    const stopKeepAlive = keepAlive(held, ackWaitMs);
    options.onEvent?.({ event: 'ready', shard });
    try {
      while (!options.signal.aborted) {
        const m = await consumer.next({ expires: 2_000 }).catch((error: unknown) => {
          if (options.signal.aborted) return null;
          throw error;
        });
        if (!m) continue;
        const aggregation = await take(link, m, shard, pending, done, options);
        if (!aggregation) continue;
        const p = pending.get(aggregation)!;
        if (!p.close || !p.close.body.members.every((id) => p.updates.has(id))) continue;
        try {
          await finish(link, shard, aggregation, p, options);
          partials++;
        } catch (error) {
          // Inputs no aggregator can sum (wrong shapes, masks that do not fit): terminated, not
          // redelivered to fail again; the round owner times out naming this shard.
          for (const m of [...p.updates.values()].map((u) => u.msg).concat(p.extra, p.close.msg)) m.term();
          options.onEvent?.({ event: 'dropped', shard, aggregation, reason: error instanceof Error ? error.message : String(error) });
        }
        pending.delete(aggregation);
        done.add(aggregation);
        if (done.size > DONE_MEMORY) done.delete(done.values().next().value!);
      }
    } finally {
      stopKeepAlive();
    }
  } finally {
    await link.close();
  }
  return { partials };
}

/** Files one message under its aggregation; returns the aggregation's id when it may now be complete. */
async function take(link: JetStreamLink, m: JsMsg, shard: number, pending: Map<string, Pending>, done: Set<string>, options: ShardAggregatorOptions): Promise<string | null> {
  let aggregation = '';
  try {
    aggregation = header(m, HEADERS.aggregation);
    const kind = header(m, HEADERS.kind);
    if (done.has(aggregation)) {
      // A late or repeated message of an aggregation already published.
      m.ack();
      await dropBlob(link, blobOf(m.headers));
      return null;
    }
    let p = pending.get(aggregation);
    if (!p && (await published(link, aggregation, shard))) {
      // This shard's partial is out (its aggregator was killed while acknowledging): the rest can go.
      done.add(aggregation);
      m.ack();
      await dropBlob(link, blobOf(m.headers));
      return null;
    }
    if (!p) {
      p = { runId: header(m, HEADERS.run), round: Number(header(m, HEADERS.round)), updates: new Map(), extra: [] };
      pending.set(aggregation, p);
    }
    if (kind === 'update' || kind === 'masked') {
      const memberId = header(m, HEADERS.member);
      const weight = Number(header(m, HEADERS.weight));
      if (p.updates.has(memberId)) {
        p.extra.push(m);
        return null;
      }
      p.updates.set(memberId, { kind, weight, bytes: await readPayload(link, m.headers, m.data), msg: m });
      options.onEvent?.({ event: 'update', shard, aggregation, memberId, delivery: m.info.deliveryCount });
    } else if (kind === 'close') {
      if (p.close) {
        p.extra.push(m);
        return null;
      }
      const body = JSON.parse(Buffer.from(await readPayload(link, m.headers, m.data)).toString('utf8')) as ShardClose;
      if (!Array.isArray(body.members) || typeof body.length !== 'number') throw new ConcordError(ErrorCode.INVALID_MESSAGE, 'a close message lacks members or length', { details: { field: 'close' } });
      if (body.clippingNorm !== undefined && !(typeof body.clippingNorm === 'number' && body.clippingNorm > 0)) throw new ConcordError(ErrorCode.INVALID_MESSAGE, `a close message's clippingNorm is ${String(body.clippingNorm)}`, { details: { field: 'close.clippingNorm' } });
      if (body.secure !== undefined && (body.clippingNorm !== undefined || !Array.isArray(body.secure.masks))) throw new ConcordError(ErrorCode.INVALID_MESSAGE, 'a secure close message needs its masks and cannot clip', { details: { field: 'close.secure' } });
      p.close = { msg: m, body };
    } else {
      throw new ConcordError(ErrorCode.INVALID_MESSAGE, `unknown message kind ${kind}`, { details: { field: HEADERS.kind, received: kind } });
    }
    return aggregation;
  } catch (error) {
    // A message no aggregator can use: terminated, so it is not redelivered forever.
    m.term();
    options.onEvent?.({ event: 'dropped', shard, aggregation, reason: error instanceof Error ? error.message : String(error) });
    return null;
  }
}

async function published(link: JetStreamLink, aggregation: string, shard: number): Promise<boolean> {
  try {
    return (await link.jsm.streams.getMessage(PARTIAL_STREAM, { last_by_subj: partialSubject(aggregation, shard) })) !== null;
  } catch {
    return false;
  }
}

async function finish(link: JetStreamLink, shard: number, aggregation: string, p: Pending, options: ShardAggregatorOptions): Promise<void> {
  const close = p.close!.body;
  const listed = new Set(close.members);
  const kind = close.secure ? 'masked' : 'update';
  for (const id of close.members) {
    if (p.updates.get(id)!.kind !== kind) throw new ConcordError(ErrorCode.INVALID_MESSAGE, `${id} sent ${p.updates.get(id)!.kind === 'masked' ? 'a masked vector' : 'a plain update'} to a shard closed for ${close.secure ? 'a secure sum' : 'a plain sum'}`, { details: { field: HEADERS.kind, expected: kind } });
  }
  let partial;
  if (close.secure) {
    const masked = close.members.map((id) => ({ memberId: id, ring: bytesUint32(p.updates.get(id)!.bytes) }));
    const masks = close.secure.masks.map((mask, i) => ({ seed: fromBase64(mask.seed, `close.secure.masks[${i}].seed`), sign: mask.sign === -1 ? (-1 as const) : (1 as const) }));
    partial = secureShardPartial(shard, masked, { config: close.secure.config, masks });
    if (partial.weightedSum.length !== close.length) throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `the secure sum holds ${partial.weightedSum.length} values; the round's model has ${close.length}`);
  } else {
    const updates = close.members.map((id) => ({ memberId: id, weight: p.updates.get(id)!.weight, data: bytesFloat32(p.updates.get(id)!.bytes) }));
    for (const u of updates) {
      if (u.data.length !== close.length) throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `${u.memberId}'s update holds ${u.data.length} values; the round's model has ${close.length}`);
    }
    partial = shardPartial(shard, updates, close.clippingNorm !== undefined ? { clippingNorm: close.clippingNorm } : {});
  }
  // The partial says how it was clipped and whether it was unmasked, so the round owner can refuse one that was not (an older aggregator).
  const bytes = encodePartial(partial, { aggregation, runId: p.runId, round: p.round, ...(close.clippingNorm !== undefined ? { clippingNorm: close.clippingNorm } : {}), ...(close.secure ? { secure: true } : {}) });
  const id = `partial.${aggregation}.${shard}`;
  await publishPayload(link, partialSubject(aggregation, shard), { [HEADERS.aggregation]: aggregation, [HEADERS.shard]: String(shard) }, bytes, { blobName: id, msgId: id });
  // Published: now, and only now, the inputs may go.
  const acks: Promise<unknown>[] = [];
  for (const [id2, u] of p.updates) {
    acks.push(u.msg.ackAck().catch(() => false));
    if (!listed.has(id2)) options.onEvent?.({ event: 'dropped', shard, aggregation, reason: `${id2} is not among the members the round owner closed with` });
  }
  for (const m of p.extra) acks.push(m.ackAck().catch(() => false));
  acks.push(p.close!.msg.ackAck().catch(() => false));
  await Promise.all(acks);
  for (const u of p.updates.values()) await dropBlob(link, blobOf(u.msg.headers));
  options.onEvent?.({ event: 'partial', shard, aggregation, runId: p.runId, round: p.round, members: partial.members.length, totalWeight: partial.totalWeight });
}
