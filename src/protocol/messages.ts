// Wire messages of protocol version 1 (see docs/protocol.md). JSON bodies and frame
// headers are validated with these schemas; validation failures become INVALID_MESSAGE
// errors that name the field and what was expected.

import { z } from 'zod';
import { ConcordError, ErrorCode } from './errors.js';
import { parseWith } from './problems.js';

export const PROTOCOL_VERSION = 1;
export const PROTOCOL_HEADER = 'concord-protocol-version';

const finite = z.number().finite();
/** A member's name: what it enrolls as, and what names its files in a node's state dir. */
export const MemberNameSchema = z.string().min(1).max(128).regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ".", "_" or "-"');

/** A model is described, not shipped as code: every party builds the same layers from this (protocol/models/). */
export {
  ModelSpecSchema,
  MODEL_FAMILY_NAMES,
  type ModelSpec,
  type ModelFamilyName,
  type SpecOf,
  type CnnSpec,
  type LayersSpec,
  type MfSpec,
  type MlpSpec,
  type TextSpec,
  type TransformerSpec,
} from './models/index.js';
import { ModelSpecSchema } from './models/index.js';

/**
 * Harmonised preprocessing (coordinator/harmonisation.ts): how every member turns its
 * schema-validated inputs into model inputs, one transform per input column, computed once
 * per run from federated statistics. numeric: impute a missing value, then (x − mean)/std;
 * indicator (a one-hot column of a category): impute a missing value with the level's
 * federated frequency.
 */
export const PreprocessingSchema = z.object({
  schema: z.object({ name: z.string().min(1).max(200), version: z.number().int().min(1), hash: z.string().regex(/^[0-9a-f]{64}$/) }).strict(),
  /** The analytics query whose released statistics it was computed from. */
  queryId: z.string().min(1).max(200),
  columns: z
    .array(
      z.discriminatedUnion('kind', [
        z.object({ kind: z.literal('numeric'), field: z.string().min(1).max(128), mean: finite, std: finite.positive(), impute: finite }).strict(),
        z.object({ kind: z.literal('indicator'), field: z.string().min(1).max(128), value: z.string().min(1).max(200), impute: finite.min(0).max(1) }).strict(),
      ]),
    )
    .min(1)
    .max(100_000),
}).strict();
export type Preprocessing = z.infer<typeof PreprocessingSchema>;

export const TrainConfigSchema = z.object({
  epochs: z.number().int().min(1).max(1000).default(1),
  batchSize: z.number().int().min(1).max(1_000_000).default(32),
  learningRate: finite.positive().default(0.05),
  optimizer: z.enum(['sgd', 'adam']).default('sgd'),
  /** FedProx proximal coefficient μ; 0 is plain local SGD. */
  proximalMu: finite.min(0).default(0),
  seed: z.number().int().default(0),
  /**
   * Stop local training after this many minibatch steps, even mid-epoch; none by default.
   * Set by a run's resource plan so each member does the work it was allotted.
   */
  maxSteps: z.number().int().min(1).optional(),
  /** Harmonised preprocessing of the inputs, set by the coordinator for a run that asks for it (harmonise). */
  preprocessing: PreprocessingSchema.optional(),
  /** Differential-privacy settings for this task, set by the coordinator from the run's configuration. */
  privacy: z
    .object({
      level: z.enum(['client', 'sample']),
      /** Client level: distributed = the member clips and adds its noise share; central = the coordinator does. */
      mode: z.enum(['central', 'distributed']).default('central'),
      /** L2 bound: of the whole update (client level) or of each example's gradient (sample level). */
      clippingNorm: finite.positive(),
      /** Sample level: DP-SGD noise multiplier z. Client level: z of the round (for the member's own ledger). */
      noiseMultiplier: finite.min(0),
      /** Client level, distributed mode: std of the Gaussian noise the member adds to its clipped update. */
      noiseStddev: finite.min(0).default(0),
      /** Client level with adaptive clipping: std of the noise on the member's "unclipped" indicator. */
      indicatorNoiseStddev: finite.min(0).optional(),
      /** Client level: the fraction of members sampled this round, as the coordinator claims it. */
      samplingRate: finite.min(0).max(1).default(1),
    })
    .strict()
    .optional(),
}).strict();
export type TrainConfig = z.infer<typeof TrainConfigSchema>;

/** A run's training settings: a task's, and how the learning rate falls from round to round. */
export const RunTrainSchema = TrainConfigSchema.extend({
  /**
   * Round r's tasks train at learningRate × learningRateDecay^(r−1); 1 keeps it constant.
   * Members get the decayed rate only. Federated averaging with several local epochs stops
   * short of the optimum by the members' drift, which a falling rate shrinks.
   */
  learningRateDecay: finite.gt(0).max(1).default(1),
}).strict();
export type RunTrainConfig = z.infer<typeof RunTrainSchema>;

export const StrategySpecSchema = z.object({
  name: z.enum(['fedavg', 'fedprox', 'fedavgm', 'fedadam', 'fedyogi', 'fedadagrad', 'fedmedian', 'fedtrimmedavg', 'krum', 'multikrum', 'fedavg-normbound', 'fedbuff']),
  /** Strategy-specific options, validated by the strategy's own schema. */
  options: z.record(z.unknown()).default({}),
}).strict();
export type StrategySpec = z.infer<typeof StrategySpecSchema>;

export const PrivacyBudgetSchema = z.object({
  epsilon: finite.positive(),
  delta: finite.gt(0).lt(1),
}).strict();
export type PrivacyBudget = z.infer<typeof PrivacyBudgetSchema>;

export const DifferentialPrivacyConfigSchema = z.object({
  /**
   * client: DP-FedAvg, protects a member's whole contribution (needs many members for a small ε).
   * sample: DP-SGD inside each member, protects each record of a member's dataset.
   */
  level: z.enum(['client', 'sample']).default('sample'),
  /** Client level only. Default: distributed with secure aggregation, central otherwise. */
  mode: z.enum(['central', 'distributed']).optional(),
  /** z; with calibration "budget", the least any member gets. */
  noiseMultiplier: finite.min(0),
  clippingNorm: finite.positive(),
  /**
   * Sample level. fixed: every member trains at noiseMultiplier. budget: each member's z is
   * the smallest (never below noiseMultiplier) at which every round of the run fits its
   * dataset's budget, so a large dataset — whose examples are sampled less often — trains
   * with less noise instead of leaving most of its budget unspent. Worked out from the
   * dataset's size and the whole budget, the same on every attempt and after a restart;
   * what the dataset spent before the run still counts against it in the budget check.
   */
  calibration: z.enum(['fixed', 'budget']).default('fixed'),
  /** Client level, central mode: adaptive clipping (Andrew et al. 2021). */
  adaptiveClipping: z
    .object({ targetQuantile: finite.gt(0).lt(1).default(0.5), clipLearningRate: finite.positive().default(0.2), clippedCountStddev: finite.positive().optional() })
    .strict()
    .optional(),
  /** Budget of every member dataset in this run, unless `budgets` names the member. */
  budget: PrivacyBudgetSchema,
  budgets: z.record(PrivacyBudgetSchema).default({}),
}).strict();
export type DifferentialPrivacyConfig = z.infer<typeof DifferentialPrivacyConfigSchema>;

export const RunConfigSchema = z.object({
  name: z.string().min(1).max(200).default('run'),
  /** What the run is for; checked against the cooperation agreement's purposes when one is in force. */
  purpose: z.string().min(1).max(500).optional(),
  /** Set by the coordinator for a run started from an approved training plan. */
  planId: z.string().min(1).max(200).optional(),
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
  train: RunTrainSchema.default({}),
  roundDeadlineSeconds: finite.positive().max(86_400).default(120),
  /** How many times a round is tried before the run fails. */
  maxRoundAttempts: z.number().int().min(1).max(1000).default(5),
  seed: z.number().int().default(0),
  /**
   * Screens each update before aggregation (shape, finiteness, delta norm against the
   * round's median) and keeps a reputation per member; off when absent.
   */
  updateValidation: z.object({ maxNormRatio: finite.min(1).default(10), reputationDecay: finite.min(0).lt(1).default(0.8) }).strict().optional(),
  /** SecAgg+: the coordinator only ever sees the sum of members' masked updates. */
  secureAggregation: z.boolean().default(false),
  /**
   * Harmonised preprocessing for schema-validated tabular data: once per run, federated
   * statistics (a summary analytics query) give each numeric input's mean and std and each
   * category level's frequency; every member then standardises, one-hot encodes and imputes
   * the same way. `privacy` releases those statistics with DP.
   */
  harmonise: z.object({ privacy: z.object({ epsilon: finite.positive(), delta: z.number().gt(0).lt(1) }).strict().optional() }).strict().optional(),
  /**
   * Hierarchical aggregation over NATS JetStream (distributed/): the round's updates are dealt
   * out by member id to `shards` shard aggregators (`concord aggregator`), each summing groups
   * of at least `minGroupSize` members; the coordinator (started with --nats) sums the partials.
   */
  hierarchicalAggregation: z.object({ shards: z.number().int().min(1).max(1024), minGroupSize: z.number().int().min(1).default(1) }).strict().optional(),
  /** Secure-aggregation parameters (neighbours k, threshold, quantization); validated by privacy/secagg. */
  secureAggregationOptions: z.record(z.unknown()).default({}),
  differentialPrivacy: DifferentialPrivacyConfigSchema.optional(),
  /**
   * Keep every member's update of every round, so contributions (Shapley values) can be
   * computed afterwards without retraining. Default: on for rounds that select up to 100
   * members (KEPT_UPDATES_MAX_MEMBERS), off for larger ones (their updates are summed as they
   * arrive and let go) and under secure aggregation, where individual updates never reach
   * the coordinator.
   */
  keepUpdates: z.boolean().optional(),
  /**
   * Resource plan: solved once when the run starts (planning/), it decides who trains each
   * round and how much. `resources` is a resources document — when absent, the members'
   * own declarations (`concord resources set`) are copied in when the run is created; the
   * other keys are plan options (objective, demand, budget, minShare, integer, batchSize)
   * plus `period`. Validated, unknown keys refused, by coordinator/plan-policy.ts.
   */
  plan: z.record(z.unknown()).optional(),
}).strict();
export type RunConfig = z.infer<typeof RunConfigSchema>;
export type RunConfigInput = z.input<typeof RunConfigSchema>;

/** A schema-validated dataset's public description: the schema it matches and, per field, counts — never values. */
export const DatasetSchemaDescriptorSchema = z.object({
  name: z.string().min(1).max(200),
  version: z.number().int().min(1),
  hash: z.string().regex(/^[0-9a-f]{64}$/, 'expected a SHA-256 hex digest'),
  records: z.number().int().min(0),
  fields: z
    .array(z.object({ name: z.string().min(1).max(128), type: z.enum(['number', 'category', 'boolean', 'date', 'text', 'identifier']), present: z.number().int().min(0), missing: z.number().int().min(0) }).strict())
    .max(1000),
}).strict();
export type DatasetSchemaDescriptor = z.infer<typeof DatasetSchemaDescriptorSchema>;

export const DatasetDescriptorSchema = z.object({
  name: z.string().min(1).max(200),
  numExamples: z.number().int().min(0),
  numHoldout: z.number().int().min(0),
  inputShape: z.array(z.number().int().positive()).max(4),
  classes: z.number().int().min(0),
  /** For data of integer ids (tokens): every id lies below this. */
  vocabulary: z.number().int().min(1).optional(),
  /** Data validated against the consortium data schema (data/schema/). */
  schema: DatasetSchemaDescriptorSchema.optional(),
}).strict();
export type DatasetDescriptor = z.infer<typeof DatasetDescriptorSchema>;

/**
 * A member's enrollment, signed (like every request of a member) with the private key that
 * belongs to `publicKey`; `invitation` is the operator's single-use code, needed unless the
 * coordinator runs with open enrollment or the name is already enrolled with this key.
 */
export const EnrollRequestSchema = z.object({
  protocolVersion: z.number().int(),
  name: MemberNameSchema,
  dataset: DatasetDescriptorSchema,
  /** The member's Ed25519 public key: base64url of its 32 raw bytes. */
  publicKey: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'base64url of a 32-byte Ed25519 public key (43 characters)'),
  invitation: z.string().min(1).max(200).optional(),
}).strict();
export type EnrollRequest = z.infer<typeof EnrollRequestSchema>;

export const EnrollResponseSchema = z.object({
  protocolVersion: z.number().int(),
  memberId: z.string(),
}).strict();
export type EnrollResponse = z.infer<typeof EnrollResponseSchema>;

/** Header of the frame that carries a task from coordinator to member. */
/** A data owner's signed decision on a training plan, as carried in task headers. */
export const PlanApprovalSchema = z.object({
  planHash: z.string().regex(/^[0-9a-f]{64}$/, 'expected a SHA-256 hex digest'),
  member: z.string().min(1).max(128),
  decision: z.enum(['approve', 'reject']),
  reason: z.string().max(2000).nullable(),
  at: z.number().int().min(0),
  signature: z.string().min(1).max(200),
}).strict();

export const TaskHeaderSchema = z.object({
  protocolVersion: z.number().int(),
  taskId: z.string().min(1).max(200),
  kind: z.enum(['train', 'evaluate', 'secagg']),
  /** Secure-aggregation stage, for kind secagg. */
  stage: z.string().max(64).optional(),
  /** Stage-specific JSON, validated by the stage's own schema. */
  payload: z.record(z.unknown()).optional(),
  runId: z.string(),
  round: z.number().int().min(1),
  /** Epoch milliseconds after which the coordinator no longer accepts the result. */
  deadline: z.number().int(),
  model: ModelSpecSchema,
  config: TrainConfigSchema,
  /** The training plan the run was started from; the member checks it against `approval`. */
  plan: z.record(z.unknown()).optional(),
  /** This member's data owner's signed decision on that plan (governance/plans.ts). */
  approval: PlanApprovalSchema.optional(),
}).strict();
export type TaskHeader = z.infer<typeof TaskHeaderSchema>;

/**
 * Header of an analytics task (analytics/, coordinator/analytics-runner.ts): a query's stage
 * and its JSON, no model. `runId` is the query's id.
 */
export const AnalyticsTaskHeaderSchema = z.object({
  protocolVersion: z.number().int(),
  taskId: z.string().min(1).max(200),
  kind: z.literal('analytics'),
  stage: z.string().max(64),
  payload: z.record(z.unknown()),
  runId: z.string(),
  round: z.number().int().min(1),
  deadline: z.number().int(),
}).strict();
export type AnalyticsTaskHeader = z.infer<typeof AnalyticsTaskHeaderSchema>;
export type AnyTaskHeader = TaskHeader | AnalyticsTaskHeader;

/** A task header of either shape, by its kind. */
export function parseTaskHeader(header: unknown): AnyTaskHeader {
  const kind = typeof header === 'object' && header !== null ? (header as { kind?: unknown }).kind : undefined;
  return kind === 'analytics' ? parseMessage(AnalyticsTaskHeaderSchema, header, 'analytics task header') : parseMessage(TaskHeaderSchema, header, 'task header');
}

/** Bounds on what a member may report as metrics: they are stored and merged into every round's record. */
export const MAX_METRICS = 64;
export const MAX_METRIC_KEY_LENGTH = 64;

/** Header of the frame that carries a result from member to coordinator. */
export const ResultHeaderSchema = z.object({
  protocolVersion: z.number().int(),
  taskId: z.string().min(1).max(200),
  kind: z.enum(['train', 'evaluate', 'secagg', 'analytics']),
  stage: z.string().max(64).optional(),
  payload: z.record(z.unknown()).optional(),
  runId: z.string(),
  round: z.number().int().min(1),
  numExamples: z.number().int().min(0),
  metrics: z
    .record(finite)
    .superRefine((m, ctx) => {
      const keys = Object.keys(m);
      if (keys.length > MAX_METRICS) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `at most ${MAX_METRICS} metrics, received ${keys.length}` });
      const long = keys.find((k) => k.length === 0 || k.length > MAX_METRIC_KEY_LENGTH);
      if (long !== undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `metric names have 1 to ${MAX_METRIC_KEY_LENGTH} characters, received one of ${long.length}` });
    })
    .default({}),
}).strict();
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

/**
 * Checks the protocol-version header's text: a number must be this side's version, and
 * anything else is named as received (the header travels as text, so Number() would
 * make "abc" null in the message and "" version 0).
 */
export function assertProtocolHeader(value: string | string[]): void {
  const text = Array.isArray(value) ? value.join(', ') : value;
  if (/^\d{1,9}$/.test(text.trim())) return assertProtocolVersion(Number(text), `header ${PROTOCOL_HEADER}`);
  throw new ConcordError(ErrorCode.PROTOCOL_VERSION, `header ${PROTOCOL_HEADER} must be a protocol version number, received ${JSON.stringify(text.slice(0, 100))}; this side speaks version ${PROTOCOL_VERSION}`, {
    details: { field: `header ${PROTOCOL_HEADER}`, expected: PROTOCOL_VERSION, received: text.slice(0, 100) },
  });
}

/**
 * Parses a message with its schema; a failure lists every problem, each naming its field,
 * what was expected and, for an unknown key, the key that was probably meant.
 */
export function parseMessage<S extends z.ZodTypeAny>(schema: S, value: unknown, what: string, code: ErrorCode = ErrorCode.INVALID_MESSAGE): z.output<S> {
  if (typeof value === 'object' && value !== null && 'protocolVersion' in value) {
    assertProtocolVersion((value as { protocolVersion: unknown }).protocolVersion);
  }
  return parseWith(schema, value, what, { code });
}
