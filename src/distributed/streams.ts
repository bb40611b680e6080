// The JetStream layout of hierarchical aggregation, shared by the shard aggregators
// (shard-aggregator.ts) and the round owner (master-aggregator.ts).
//
//   CONCORD_UPDATES   work queue   concord.updates.s<i>      members' updates for shard i, then one
//                                                            "close" naming the members to sum
//   CONCORD_PARTIALS  kept a day   concord.partials.<agg>.s<i>  each shard's Σ n_k θ_k, Σ n_k, member ids
//
// <agg> is one aggregation's id (fresh for every attempt of every round), so a retried round
// never meets the messages of an earlier attempt. Message ids (Nats-Msg-Id) make a publish
// repeated after a restart a no-op within the two-minute duplicate window.

import { ensureDurable, ensureStream, type JetStreamLink } from './jetstream.js';

export const UPDATE_STREAM = 'CONCORD_UPDATES';
export const PARTIAL_STREAM = 'CONCORD_PARTIALS';

export const HEADERS = {
  kind: 'Concord-Kind',
  aggregation: 'Concord-Aggregation',
  run: 'Concord-Run',
  round: 'Concord-Round',
  member: 'Concord-Member',
  weight: 'Concord-Weight',
  shard: 'Concord-Shard',
} as const;

export const updateSubject = (shard: number): string => `concord.updates.s${shard}`;
export const partialSubject = (aggregation: string, shard: number): string => `concord.partials.${aggregation}.s${shard}`;
export const partialsOf = (aggregation: string): string => `concord.partials.${aggregation}.>`;
export const shardConsumer = (shard: number): string => `shard-${shard}`;

export interface ShardQueueOptions {
  /** A shard aggregator's delivered update not acknowledged (or kept alive) within this goes to another. Default 30 000 ms. */
  ackWaitMs?: number;
  /** Deliveries of one message before it is given up. Default 10. */
  maxDeliver?: number;
}

export async function declareAggregationStreams(link: JetStreamLink): Promise<void> {
  await ensureStream(link, UPDATE_STREAM, ['concord.updates.>'], 'workqueue');
  await ensureStream(link, PARTIAL_STREAM, ['concord.partials.>'], 'limits');
}

export async function declareShardConsumer(link: JetStreamLink, shard: number, options: ShardQueueOptions = {}): Promise<string> {
  const durable = shardConsumer(shard);
  await ensureDurable(link, UPDATE_STREAM, durable, updateSubject(shard), { ackWaitMs: options.ackWaitMs ?? 30_000, maxDeliver: options.maxDeliver ?? 10 });
  return durable;
}
