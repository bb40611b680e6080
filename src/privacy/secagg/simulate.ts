// An in-memory round of SecAgg+: N members and the server exchanging their messages through
// JSON, with members dropping out at chosen stages. Tests use it to check the protocol end
// to end, the benchmark to time it; the coordinator's grid will carry the same messages.

import { isConcordError, type ConcordError } from '../../protocol/errors.js';
import { type IntegerUpdate, type MemberUpdate, SecAggMember } from './member.js';
import type { SecAggPrimitives } from './primitives.js';
import { nodePrimitives } from './primitives-node.js';
import type { KeyAuthenticator, MaskedVectorHeader, SecAggConfig, SecAggReply, SecAggRequest, SecAggStage } from './protocol.js';
import { type SecAggResult, SecAggServer } from './server.js';

export interface SimulationOptions {
  config: SecAggConfig;
  /** Each member's update, asked for when its masked vector is due. */
  update: (memberId: string) => MemberUpdate | IntegerUpdate;
  /** Members that stop answering at a stage (and every later one). */
  dropouts?: Partial<Record<SecAggStage, readonly string[]>>;
  keyAuthenticator?: KeyAuthenticator;
  /** Each member's cryptography (the server's is node:crypto). Default nodePrimitives for all. */
  primitives?: SecAggPrimitives | ((memberId: string) => SecAggPrimitives);
  /** Every message passes through JSON, as on the wire. Default true. */
  serialize?: boolean;
  /**
   * How masked vectors travel: 'base64' inside the JSON reply (the default), or 'binary' beside
   * a JSON header (SecAggMember.maskVector → SecAggServer.receiveMaskedVector), as the HTTP
   * grid carries them in a frame's uint32 tensor.
   */
  maskedVectors?: 'base64' | 'binary';
  /**
   * Sees each request the server sends and each reply it gets (the server's view), with its
   * size: the JSON, plus 4 bytes per ring element of a binary masked vector (whose header is
   * then the message).
   */
  onMessage?: (direction: 'request' | 'reply', memberId: string, message: SecAggRequest | SecAggReply | MaskedVectorHeader, bytes: number) => void;
  /** Time taken by one party for one stage, in seconds. */
  onTiming?: (party: 'member' | 'server', stage: SecAggStage, memberId: string | null, seconds: number) => void;
}

export interface SimulationOutcome {
  result: SecAggResult;
  /** Members that refused a request, with the reason; they count as dropped at that stage. */
  refusals: Map<string, ConcordError>;
}

const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;

export function simulateSecAgg(options: SimulationOptions): SimulationOutcome {
  const { config, serialize = true } = options;
  const server = new SecAggServer(config);
  const primitivesOf = typeof options.primitives === 'function' ? options.primitives : () => (options.primitives as SecAggPrimitives | undefined) ?? nodePrimitives;
  const members = new Map(
    config.memberIds.map((id) => [id, new SecAggMember({ memberId: id, primitives: primitivesOf(id), ...(options.keyAuthenticator ? { keyAuthenticator: options.keyAuthenticator } : {}) })]),
  );
  const gone = new Set<string>();
  const refusals = new Map<string, ConcordError>();
  const binary = options.maskedVectors === 'binary';
  const wire = <T>(direction: 'request' | 'reply', memberId: string, message: T, binaryBytes = 0): T => {
    if (!serialize && !options.onMessage) return message;
    const text = JSON.stringify(message);
    const out = serialize ? (JSON.parse(text) as T) : message;
    options.onMessage?.(direction, memberId, out as SecAggRequest | SecAggReply | MaskedVectorHeader, Buffer.byteLength(text) + binaryBytes);
    return out;
  };

  let t0 = process.hrtime.bigint();
  let requests: Map<string, SecAggRequest> = server.start();
  let stage: SecAggStage = 'setup';
  let serverTime = seconds(t0);
  for (;;) {
    for (const id of options.dropouts?.[stage] ?? []) gone.add(id);
    for (const [id, request] of requests) {
      if (gone.has(id)) continue;
      const member = members.get(id)!;
      const received = wire('request', id, request);
      const update = stage === 'collectMaskedVectors' ? options.update(id) : undefined;
      const start = process.hrtime.bigint();
      let reply: SecAggReply | { header: MaskedVectorHeader; maskedVector: Uint32Array };
      try {
        reply = binary && stage === 'collectMaskedVectors' ? member.maskVector(received, update!) : member.handle(received, update);
      } catch (error) {
        if (!isConcordError(error)) throw error;
        refusals.set(id, error);
        gone.add(id);
        continue;
      }
      options.onTiming?.('member', stage, id, seconds(start));
      if ('header' in reply) {
        // The vector's bytes go as they are, as a frame's tensor would carry them.
        const header = wire('reply', id, reply.header, reply.maskedVector.byteLength);
        const s = process.hrtime.bigint();
        server.receiveMaskedVector(header, reply.maskedVector);
        serverTime += seconds(s);
      } else {
        const sent = wire('reply', id, reply);
        const s = process.hrtime.bigint();
        server.receive(sent);
        serverTime += seconds(s);
      }
    }
    t0 = process.hrtime.bigint();
    const step = server.advance();
    options.onTiming?.('server', stage, null, serverTime + seconds(t0));
    if (step.done) return { result: step.result, refusals };
    requests = step.requests;
    stage = step.stage;
    serverTime = 0;
  }
}
