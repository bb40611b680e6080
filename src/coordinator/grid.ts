// The Grid is how the round loop reaches members without knowing about the network
// (after Flower's Grid): push tasks, wait for replies until a deadline, and learn who is
// online. coordinator/task-board.ts is the HTTP-backed implementation; tests can supply
// an in-memory one.

import type { ModelSpec, ResultHeader, TaskHeader, TrainConfig } from '../protocol/messages.js';

type PlanApprovalHeader = NonNullable<TaskHeader['approval']>;
import type { Parameters } from '../protocol/tensors.js';
import type { Failure, MemberRef } from '../strategies/strategy.js';

/** A task for a member: one of a model's (train, evaluate, secagg) or an analytics query's stage. */
export type OutgoingTask = ModelTask | AnalyticsTask;

/** A stage of a federated-analytics query (coordinator/analytics-runner.ts); `runId` is the query's id. */
export interface AnalyticsTask {
  memberId: string;
  kind: 'analytics';
  runId: string;
  round: number;
  stage: string;
  payload: Record<string, unknown>;
  parameters?: undefined;
}

export interface ModelTask {
  memberId: string;
  kind: 'train' | 'evaluate' | 'secagg';
  runId: string;
  round: number;
  model: ModelSpec;
  config: TrainConfig;
  /** The global model (train, evaluate; secagg stages that train). */
  parameters?: Parameters;
  /** Secure-aggregation stage and its JSON message. */
  stage?: string;
  payload?: Record<string, unknown>;
  /** A run started from a training plan: the plan and this member's owner's approval of it. */
  plan?: Record<string, unknown>;
  approval?: PlanApprovalHeader;
}

export interface TaskReply {
  memberId: string;
  header: ResultHeader;
  parameters?: Parameters;
  /** Bytes the coordinator sent for this task and received with its result. */
  bytesOut: number;
  bytesIn: number;
  /** From task delivery to result. */
  seconds: number;
}

/**
 * A running weighted sum a grid may add train replies' parameters to as they arrive
 * (core/streaming-mean.ts), so it need not hold every update until the round ends. A reply
 * the grid added comes back without parameters; one it did not comes back with them.
 */
export interface UpdateFold {
  add(data: Float32Array, weight: number): void;
}

export interface SendOptions {
  deadline: number;
  signal: AbortSignal;
  /** Train replies' parameters may be added here, weighted by their numExamples, instead of returned. */
  fold?: UpdateFold;
}

export interface Grid {
  /** Members online now, sorted by id. */
  available(): MemberRef[];
  /** Resolves once at least `count` members are online. */
  waitForMembers(count: number, signal: AbortSignal): Promise<void>;
  /** Every task ends as exactly one reply or one failure; never throws for a member's fault. */
  sendAndReceive(tasks: OutgoingTask[], options: SendOptions): Promise<{ replies: TaskReply[]; failures: Failure[] }>;
}
