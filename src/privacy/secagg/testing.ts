// Helpers for the SecAgg+ tests: deterministic updates and a round driven by hand up to the
// unmask stage, so that tests can play a server that deviates from the protocol.

import { seededRandom } from '../../core/random.js';
import { type MemberUpdate, SecAggMember } from './member.js';
import type { SecAggPrimitives } from './primitives.js';
import { nodePrimitives } from './primitives-node.js';
import type { CollectMaskedVectorsReply, SecAggConfig, SecAggReply, SecAggRequest } from './protocol.js';
import { SecAggServer } from './server.js';

/** Updates with values in (−range, range) and weights in (0, maxWeight], reproducible per seed. */
export function makeUpdates(memberIds: readonly string[], length: number, options: { seed: number; range: number; maxWeight: number }): Map<string, MemberUpdate> {
  const random = seededRandom(options.seed);
  return new Map(
    memberIds.map((id) => {
      const data = new Float32Array(length);
      for (let i = 0; i < length; i++) data[i] = (2 * random() - 1) * options.range;
      return [id, { data, weight: Math.max(1e-3, random()) * options.maxWeight }];
    }),
  );
}

export interface DrivenRound {
  server: SecAggServer;
  members: Map<string, SecAggMember>;
  /** Every reply the server received, in order: its view of the round so far. */
  view: SecAggReply[];
  /** The honest unmask requests the server would send next. */
  unmaskRequests: Map<string, SecAggRequest>;
  maskedVectors: Map<string, CollectMaskedVectorsReply>;
}

/** Runs setup, shareKeys and collectMaskedVectors with every member answering. */
export function driveToUnmask(config: SecAggConfig, updates: Map<string, MemberUpdate>, primitives: SecAggPrimitives = nodePrimitives): DrivenRound {
  const server = new SecAggServer(config);
  const members = new Map(config.memberIds.map((id) => [id, new SecAggMember({ memberId: id, primitives })]));
  const view: SecAggReply[] = [];
  const maskedVectors = new Map<string, CollectMaskedVectorsReply>();
  let requests: Map<string, SecAggRequest> = server.start();
  for (let stage = 0; stage < 3; stage++) {
    for (const [id, request] of requests) {
      const reply = members.get(id)!.handle(JSON.parse(JSON.stringify(request)), updates.get(id));
      view.push(reply);
      if (reply.stage === 'collectMaskedVectors') maskedVectors.set(id, reply);
      server.receive(JSON.parse(JSON.stringify(reply)));
    }
    const step = server.advance();
    if (step.done) throw new Error('the round ended early');
    requests = step.requests;
  }
  return { server, members, view, unmaskRequests: requests, maskedVectors };
}
