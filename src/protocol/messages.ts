// Wire messages of protocol version 1 (see docs/protocol.md). JSON bodies and frame
// headers are validated with these schemas; validation failures become INVALID_MESSAGE
// errors that name the field and what was expected.

import { z } from 'zod';
import { ConcordError, ErrorCode } from './errors.js';

export const PROTOCOL_VERSION = 1;
export const PROTOCOL_HEADER = 'concord-protocol-version';

const finite = z.number().finite();
const name = z.string().min(1).max(128).regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ".", "_" or "-"');

/** A model is described, not shipped as code: every party builds the same layers from this. */
export const ModelSpecSchema = z.discriminatedUnion('family', [
  z.object({
    family: z.literal('mlp'),
    inputShape: z.array(z.number().int().positive()).min(1).max(4),
    hidden: z.array(z.number().int().positive().max(65_536)).max(16).default([]),
    classes: z.number().int().min(2).max(100_000),
    activation: z.enum(['relu', 'tanh', 'sigmoid']).default('relu'),
  }),
]);
export type ModelSpec = z.infer<typeof ModelSpecSchema>;

export const TrainConfigSchema = z.object({
  epochs: z.number().int().min(1).max(1000),
  batchSize: z.number().int().min(1).max(1_000_000),
  learningRate: finite.positive(),
  optimizer: z.enum(['sgd', 'adam']).default('sgd'),
  /** FedProx proximal coefficient μ; 0 is plain local SGD. */
  proximalMu: finite.min(0).default(0),
  seed: z.number().int().default(0),
});
export type TrainConfig = z.infer<typeof TrainConfigSchema>;

export const StrategySpecSchema = z.object({
  name: z.enum(['fedavg', 'fedprox', 'fedavgm', 'fedadam', 'fedyogi', 'fedadagrad']),
  /** Strategy-specific options, validated by the strategy's own schema. */
  options: z.record(z.unknown()).default({}),
});
export type StrategySpec = z.infer<typeof StrategySpecSchema>;

export const RunConfigSchema = z.object({
  name: z.string().min(1).max(200).default('run'),
  model: ModelSpecSchema,
  strategy: StrategySpecSchema.default({ name: 'fedavg', options: {} }),
  rounds: z.number().int().min(1).max(100_000),
  /** Fraction of available members asked to train each round, and the floor on that number. */
  fractionTrain: finite.gt(0).max(1).default(1),
  minTrainMembers: z.number().int().min(1).default(2),
  /** The round waits until this many members are online before it selects. */
  minAvailableMembers: z.number().int().min(1).default(2),
  fractionEvaluate: finite.min(0).max(1).default(1),
  minEvaluateMembers: z.number().int().min(0).default(1),
  train: TrainConfigSchema.default({ epochs: 1, batchSize: 32, learningRate: 0.05 }),
  roundDeadlineSeconds: finite.positive().max(86_400).default(120),
  /** How many times a round is tried before the run fails. */
  maxRoundAttempts: z.number().int().min(1).max(1000).default(5),
  seed: z.number().int().default(0),
});
export type RunConfig = z.infer<typeof RunConfigSchema>;
export type RunConfigInput = z.input<typeof RunConfigSchema>;

export const DatasetDescriptorSchema = z.object({
  name: z.string().min(1).max(200),
  numExamples: z.number().int().min(0),
  numHoldout: z.number().int().min(0),
  inputShape: z.array(z.number().int().positive()).max(4),
  classes: z.number().int().min(0),
});
export type DatasetDescriptor = z.infer<typeof DatasetDescriptorSchema>;

export const EnrollRequestSchema = z.object({
  protocolVersion: z.number().int(),
  name,
  dataset: DatasetDescriptorSchema,
});
export type EnrollRequest = z.infer<typeof EnrollRequestSchema>;

export const EnrollResponseSchema = z.object({
  protocolVersion: z.number().int(),
  memberId: z.string(),
  token: z.string(),
});
export type EnrollResponse = z.infer<typeof EnrollResponseSchema>;

/** Header of the frame that carries a task from coordinator to member. */
export const TaskHeaderSchema = z.object({
  protocolVersion: z.number().int(),
  taskId: z.string().min(1).max(200),
  kind: z.enum(['train', 'evaluate']),
  runId: z.string(),
  round: z.number().int().min(1),
  /** Epoch milliseconds after which the coordinator no longer accepts the result. */
  deadline: z.number().int(),
  model: ModelSpecSchema,
  config: TrainConfigSchema,
});
export type TaskHeader = z.infer<typeof TaskHeaderSchema>;

/** Header of the frame that carries a result from member to coordinator. */
export const ResultHeaderSchema = z.object({
  protocolVersion: z.number().int(),
  taskId: z.string().min(1).max(200),
  kind: z.enum(['train', 'evaluate']),
  runId: z.string(),
  round: z.number().int().min(1),
  numExamples: z.number().int().min(0),
  metrics: z.record(finite).default({}),
});
export type ResultHeader = z.infer<typeof ResultHeaderSchema>;

export const ErrorBodySchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.record(z.unknown()).default({}) }),
});

export function assertProtocolVersion(version: unknown, field = 'protocolVersion'): void {
  if (version !== PROTOCOL_VERSION) {
    throw new ConcordError(ErrorCode.PROTOCOL_VERSION, `peer speaks protocol version ${JSON.stringify(version)}, this side speaks version ${PROTOCOL_VERSION}`, {
      details: { field, expected: PROTOCOL_VERSION, received: version },
    });
  }
}

/** Parses with a schema; a failure names the first offending field and what it expected. */
export function parseMessage<S extends z.ZodTypeAny>(schema: S, value: unknown, what: string): z.output<S> {
  if (typeof value === 'object' && value !== null && 'protocolVersion' in value) {
    assertProtocolVersion((value as { protocolVersion: unknown }).protocolVersion);
  }
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issue.path.join('.') || '(root)';
  throw new ConcordError(ErrorCode.INVALID_MESSAGE, `${what}: ${field}: ${issue.message}`, {
    details: { field, issues: result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message, code: i.code })) },
  });
}
