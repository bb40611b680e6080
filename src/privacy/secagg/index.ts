// SecAgg+ secure aggregation (Bonawitz et al. 2017; Bell et al. 2020): the coordinator
// learns Σ wθ and Σ w over the members of a round, never an individual update. Start at
// protocol.ts for the stages and the threat model. This index includes the server and
// node:crypto; a browser imports member.ts and primitives-noble.ts directly.

export { defaultNeighbourCount, defaultThreshold, neighbourGraph } from './graph.js';
export { type MemberUpdate, SecAggMember, type SecAggMemberOptions } from './member.js';
export {
  type AdvertisedKeys,
  type CollectMaskedVectorsReply,
  type CollectMaskedVectorsRequest,
  type KeyAuthenticator,
  SECAGG_VERSION,
  STAGES,
  type SecAggConfig,
  SecAggConfigSchema,
  type SecAggOptions,
  type SecAggReply,
  SecAggReplySchema,
  type SecAggRequest,
  SecAggRequestSchema,
  type SecAggStage,
  type SetupReply,
  type SetupRequest,
  type ShareKeysReply,
  type ShareKeysRequest,
  type UnmaskReply,
  type UnmaskRequest,
  keyPayload,
  makeSecAggConfig,
  validateSecAggConfig,
} from './protocol.js';
export { type SecAggPrimitives, type X25519KeyPair } from './primitives.js';
export { nodePrimitives } from './primitives-node.js';
export { noblePrimitives } from './primitives-noble.js';
export { type QuantizationOptions, defaultQuantizationBits, quantizationErrorBound } from './quantize.js';
export { type SecAggResult, SecAggServer, type SecAggStep, type SecAggUnmaskPlan, type Shortfall, decodeRingSum, unmaskRingSum } from './server.js';
export { type SimulationOptions, type SimulationOutcome, simulateSecAgg } from './simulate.js';
