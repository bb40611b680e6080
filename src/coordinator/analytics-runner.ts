// One analytics query's exchange with its members through the grid (the in-process TaskBoard
// or the replicas' SharedTaskBoard): under secure aggregation the four SecAgg+ stages
// (Bonawitz et al. 2017; Bell et al. 2020) in integer encoding, so the coordinator learns
// only the exact element-wise sum of the members' ring vectors; in the plain stage each
// member's vector itself (only where the agreement allows it). Dropouts are recovered as in
// training rounds; fewer contributors than the minimum ends the query with the shortfall.

import { ConcordError, ErrorCode, isConcordError } from '../protocol/errors.js';
import { assertSameSpecs } from '../protocol/tensors.js';
import { addRing } from '../analytics/fixed-point.js';
import { ANALYTICS_PLAIN_STAGE, type AnalyticsPayload } from '../analytics/wire.js';
import { defaultNeighbourCount } from '../privacy/secagg/graph.js';
import { type SecAggRequest, type SecAggStage, encodeRingVector, makeSecAggConfig } from '../privacy/secagg/protocol.js';
import { SecAggServer, type SecAggStep } from '../privacy/secagg/server.js';
import { maskedVectorSpec } from '../privacy/secagg/wire.js';
import type { Failure, MemberRef } from '../strategies/strategy.js';
import type { Grid, OutgoingTask, TaskReply } from './grid.js';

export interface AnalyticsExchangeOptions {
  grid: Grid;
  queryId: string;
  /** What every stage carries besides its SecAgg+ request. */
  payload: Omit<AnalyticsPayload, 'secagg'>;
  members: readonly MemberRef[];
  /** Ring elements per member vector. */
  vectorLength: number;
  secure: boolean;
  /** SecAgg+ secret-sharing bits per element (limbBits + 1). */
  bits: number;
  minContributors: number;
  deadline: number;
  signal: AbortSignal;
  /** Of the round seed: 32 public random bytes. */
  roundSeed?: Uint8Array;
}

export interface AnalyticsExchange {
  sum: Uint32Array;
  contributors: string[];
  failures: Failure[];
  /** Bytes each member received and sent for the query, over all stages. */
  traffic: Map<string, { bytesOut: number; bytesIn: number; seconds: number }>;
}

const STAGE_END: Record<SecAggStage, number> = { setup: 0.25, shareKeys: 0.4, collectMaskedVectors: 0.8, unmask: 1 };

export async function exchangeAnalytics(options: AnalyticsExchangeOptions): Promise<AnalyticsExchange> {
  const { grid, members, signal } = options;
  const traffic = new Map<string, { bytesOut: number; bytesIn: number; seconds: number }>();
  const failures = new Map<string, string>();
  const tally = (reply: TaskReply) => {
    const t = traffic.get(reply.memberId) ?? { bytesOut: 0, bytesIn: 0, seconds: 0 };
    t.bytesOut += reply.bytesOut;
    t.bytesIn += reply.bytesIn;
    t.seconds += reply.seconds;
    traffic.set(reply.memberId, t);
  };
  const task = (memberId: string, stage: string, secagg?: SecAggRequest): OutgoingTask => ({
    memberId,
    kind: 'analytics',
    runId: options.queryId,
    round: 1,
    stage,
    payload: { ...options.payload, ...(secagg ? { secagg: secagg as unknown as Record<string, unknown> } : {}) },
  });
  const shortfall = (count: number, what: string) =>
    new ConcordError(ErrorCode.NOT_ENOUGH_MEMBERS, `analytics: only ${count} members ${what}, the minimum is ${options.minContributors}${describe(failures)}`, {
      details: { field: 'minContributors', expected: options.minContributors, received: count },
    });

  if (!options.secure) {
    const exchanged = await grid.sendAndReceive(members.map((m) => task(m.memberId, ANALYTICS_PLAIN_STAGE)), { deadline: options.deadline, signal });
    const sum = new Uint32Array(options.vectorLength);
    const contributors: string[] = [];
    for (const f of exchanged.failures) failures.set(f.memberId, f.reason);
    for (const reply of exchanged.replies) {
      tally(reply);
      try {
        addRing(sum, vectorOf(reply, options.vectorLength));
        contributors.push(reply.memberId);
      } catch (error) {
        failures.set(reply.memberId, `reply refused: ${isConcordError(error) ? error.message : String(error)}`);
      }
    }
    if (contributors.length < options.minContributors) throw shortfall(contributors.length, 'answered');
    return { sum, contributors: contributors.sort(), failures: [...failures].map(([memberId, reason]) => ({ memberId, reason })), traffic };
  }

  const ids = members.map((m) => m.memberId);
  if (ids.length < 2) throw new ConcordError(ErrorCode.NOT_ENOUGH_MEMBERS, `secure aggregation needs at least 2 members; ${ids.length} hold data for this query`, { details: { field: 'members', expected: '>= 2', received: ids.length } });
  let neighbours = Math.min(ids.length - 1, defaultNeighbourCount(ids.length));
  if (neighbours % 2 === 1 && ids.length % 2 === 1) neighbours = Math.min(ids.length - 1, neighbours + 1);
  const config = makeSecAggConfig({ memberIds: ids, vectorLength: options.vectorLength, encoding: 'integer', bits: options.bits, neighbours, ...(options.roundSeed ? { roundSeed: options.roundSeed } : {}) });
  const server = new SecAggServer(config);
  const started = Date.now();
  const span = Math.max(0, options.deadline - started);
  let stage: SecAggStage = 'setup';
  let requests: Map<string, SecAggRequest> = server.start();
  for (;;) {
    const deadline = Math.min(options.deadline, started + Math.round(span * STAGE_END[stage]));
    const exchanged = await grid.sendAndReceive([...requests].map(([id, request]) => task(id, stage, request)), { deadline, signal });
    if (signal.aborted) throw new ConcordError(ErrorCode.UNAVAILABLE, 'the query was stopped', { details: { field: 'signal' } });
    for (const f of exchanged.failures) failures.set(f.memberId, `${stage}: ${f.reason}`);
    for (const reply of exchanged.replies) {
      tally(reply);
      try {
        server.receive(readSecureReply(reply, stage, config.vectorLength + 1));
      } catch (error) {
        failures.set(reply.memberId, `${stage}: reply refused (${isConcordError(error) ? `${error.code}: ${error.message}` : String(error)})`);
      }
    }
    let step: SecAggStep;
    try {
      step = server.advance();
    } catch (error) {
      if (isConcordError(error) && error.code === ErrorCode.NOT_ENOUGH_MEMBERS) throw new ConcordError(ErrorCode.NOT_ENOUGH_MEMBERS, `analytics: secure aggregation failed after ${stage}: ${error.message}${describe(failures)}`, { details: error.details, cause: error });
      throw error;
    }
    if (step.done) {
      const contributors = step.result.contributors;
      for (const id of contributors) failures.delete(id);
      if (contributors.length < options.minContributors) throw shortfall(contributors.length, 'contributed');
      return { sum: step.result.integerSum!, contributors, failures: [...failures].map(([memberId, reason]) => ({ memberId, reason })), traffic };
    }
    if (step.requests.size < options.minContributors) throw shortfall(step.requests.size, stage === 'collectMaskedVectors' ? 'sent a masked vector' : `remain after ${stage}`);
    stage = step.stage;
    requests = step.requests;
  }
}

function vectorOf(reply: TaskReply, elements: number): Uint32Array {
  if (!reply.parameters) throw new ConcordError(ErrorCode.INVALID_MESSAGE, 'an analytics reply must carry its vector as a tensor', { details: { field: 'tensors', expected: 'uint32 vector' } });
  assertSameSpecs([maskedVectorSpec(elements)], reply.parameters.specs);
  const data = reply.parameters.data;
  return new Uint32Array(data.buffer, data.byteOffset, data.length);
}

function readSecureReply(reply: TaskReply, stage: SecAggStage, elements: number): Record<string, unknown> {
  const message = reply.header.payload?.secagg;
  if (typeof message !== 'object' || message === null) throw new ConcordError(ErrorCode.INVALID_MESSAGE, `a ${stage} reply must carry its SecAgg+ message in payload.secagg`, { details: { field: 'payload.secagg' } });
  const m = message as Record<string, unknown>;
  if (m.memberId !== reply.memberId) throw new ConcordError(ErrorCode.INVALID_MESSAGE, `payload.secagg.memberId is ${JSON.stringify(m.memberId)}, but the reply came from ${reply.memberId}`, { details: { field: 'payload.secagg.memberId' } });
  if (stage !== 'collectMaskedVectors') {
    if (reply.parameters) throw new ConcordError(ErrorCode.INVALID_MESSAGE, `a ${stage} reply carries no tensors`, { details: { field: 'tensors' } });
    return m;
  }
  if ('maskedVector' in m) throw new ConcordError(ErrorCode.INVALID_MESSAGE, 'the masked vector travels as the frame’s uint32 tensor, not in JSON', { details: { field: 'payload.secagg.maskedVector' } });
  return { ...m, maskedVector: encodeRingVector(vectorOf(reply, elements)) };
}

function describe(failures: Map<string, string>): string {
  return failures.size === 0 ? '' : ` (${[...failures].map(([id, reason]) => `${id}: ${reason}`).join('; ')})`;
}
