// What a member's result must be to settle its task, and the task frame it answers: shared
// by the in-process TaskBoard and the replicas' SharedTaskBoard, so a result is judged the
// same whichever coordinator process receives it.

import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { decodeFrame, encodeFrame, encodeFramePrefix, payloadBytes } from '../protocol/frame.js';
import { PROTOCOL_VERSION, ResultHeaderSchema, parseMessage, type AnalyticsTaskHeader, type ResultHeader, type TaskHeader } from '../protocol/messages.js';
import { assertFinite, assertSameSpecs, type Parameters, type TensorSpec } from '../protocol/tensors.js';
import type { OutgoingTask, TaskReply, UpdateFold } from './grid.js';

/** What checking a result needs to know about its task. */
export interface TaskExpectation {
  taskId: string;
  kind: OutgoingTask['kind'];
  stage?: string | undefined;
  runId: string;
  round: number;
  /** The manifest a train result's parameters must have (the global model's). */
  specs: TensorSpec[] | null;
  /** What the member enrolled with: a result cannot weigh more. */
  numExamples?: number | undefined;
  numHoldout?: number | undefined;
}

export function expectationOf(taskId: string, task: OutgoingTask, member: { numExamples?: number; numHoldout?: number } | undefined): TaskExpectation {
  return {
    taskId,
    kind: task.kind,
    stage: task.stage,
    runId: task.runId,
    round: task.round,
    specs: task.parameters ? task.parameters.specs : null,
    numExamples: member?.numExamples,
    numHoldout: member?.numHoldout,
  };
}

/** The header of the task a member receives. */
export function taskHeader(taskId: string, task: OutgoingTask, deadline: number): TaskHeader | AnalyticsTaskHeader {
  if (task.kind === 'analytics') return { protocolVersion: PROTOCOL_VERSION, taskId, kind: 'analytics', stage: task.stage, payload: task.payload, runId: task.runId, round: task.round, deadline };
  return {
    protocolVersion: PROTOCOL_VERSION,
    taskId,
    kind: task.kind,
    ...(task.stage !== undefined ? { stage: task.stage } : {}),
    ...(task.payload !== undefined ? { payload: task.payload } : {}),
    runId: task.runId,
    round: task.round,
    deadline,
    model: task.model,
    config: task.config,
    ...(task.plan !== undefined ? { plan: task.plan } : {}),
    ...(task.approval !== undefined ? { approval: task.approval } : {}),
  };
}

/** The frame a member receives for a task. */
export function taskFrame(taskId: string, task: OutgoingTask, deadline: number): Buffer {
  const encoded = encodeFrame(taskHeader(taskId, task, deadline) as unknown as Record<string, unknown>, task.kind === 'analytics' ? undefined : task.parameters);
  return Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength); // a view, for Fastify's reply
}

/**
 * The task frame in two pieces, the member's own prefix (header and manifest) and the
 * payload: the global model's bytes, copied once per model and shared by every frame that
 * carries it, so a round sends one model to N members without N copies of it. The copy
 * (rather than a view) keeps what is on the wire fixed even if the caller's parameters
 * change later. Same bytes as taskFrame.
 */
export function taskFrameParts(taskId: string, task: OutgoingTask, deadline: number): Uint8Array[] {
  const header = taskHeader(taskId, task, deadline) as unknown as Record<string, unknown>;
  if (task.kind === 'analytics' || !task.parameters) return [encodeFramePrefix(header)];
  return [encodeFramePrefix(header, task.parameters.specs), sharedPayload(task.parameters)];
}

const payloads = new WeakMap<Parameters, Uint8Array>();

function sharedPayload(parameters: Parameters): Uint8Array {
  let bytes = payloads.get(parameters);
  if (!bytes) payloads.set(parameters, (bytes = payloadBytes(parameters).slice()));
  return bytes;
}

/** Decodes and checks a result against its task; throws the member's error (INVALID_MESSAGE, STALE_ROUND, SHAPE_MISMATCH, NON_FINITE). */
export function validateResult(t: TaskExpectation, body: Uint8Array): { header: ResultHeader; parameters?: Parameters } {
  const frame = decodeFrame(body);
  const header: ResultHeader = parseMessage(ResultHeaderSchema, frame.header, 'result header');
  if (header.taskId !== t.taskId) throw mismatch('taskId', t.taskId, header.taskId);
  if (header.kind !== t.kind) throw mismatch('kind', t.kind, header.kind);
  if (header.stage !== t.stage) throw mismatch('stage', t.stage, header.stage);
  if (header.runId !== t.runId) throw mismatch('runId', t.runId, header.runId);
  if (header.round !== t.round) {
    throw new ConcordError(ErrorCode.STALE_ROUND, `result is for round ${header.round} but the task belongs to round ${t.round}`, {
      details: { field: 'round', expected: t.round, received: header.round },
    });
  }
  // A result's weight in the average is its example count: bounded by what the member enrolled with.
  const enrolled = t.kind === 'evaluate' ? t.numHoldout : t.numExamples;
  if (enrolled !== undefined && header.numExamples > enrolled) {
    const what = t.kind === 'evaluate' ? 'holdout examples' : 'examples';
    throw new ConcordError(ErrorCode.INVALID_MESSAGE, `numExamples is ${header.numExamples}, but this member enrolled with ${enrolled} ${what}; a result cannot weigh more than the data behind it`, {
      details: { field: 'numExamples', expected: `<= ${enrolled}`, received: header.numExamples },
    });
  }
  if (t.kind === 'secagg' || t.kind === 'analytics') {
    // Stage messages are validated by the secure-aggregation protocol (and the analytics runner), which know them.
  } else if (t.kind === 'train') {
    if (!frame.parameters || !t.specs) throw new ConcordError(ErrorCode.INVALID_MESSAGE, 'a train result must carry the updated parameters', { details: { field: 'tensors', expected: 'the model manifest' } });
    assertSameSpecs(t.specs, frame.parameters.specs);
    assertFinite(frame.parameters);
    if (header.numExamples < 1) throw mismatch('numExamples', '>= 1', header.numExamples);
  } else {
    if (frame.parameters) throw new ConcordError(ErrorCode.INVALID_MESSAGE, 'an evaluate result carries no parameters', { details: { field: 'tensors', expected: 'none' } });
    if (header.metrics.loss === undefined) throw mismatch('metrics.loss', 'a finite number', 'missing');
  }
  return { header, ...(frame.parameters ? { parameters: frame.parameters } : {}) };
}

/**
 * A checked reply as the round receives it: a train update the round sums on arrival is
 * added to its fold, weighted by its examples, and the reply comes back without it (so
 * nothing holds the update); any other reply is returned as it is.
 */
export function foldedReply(reply: TaskReply, kind: OutgoingTask['kind'], fold: UpdateFold | undefined): TaskReply {
  if (!fold || kind !== 'train' || !reply.parameters) return reply;
  fold.add(reply.parameters.data, reply.header.numExamples);
  const { parameters: _added, ...rest } = reply;
  return rest;
}

/** How a rejected result fails its task, for the round's record. */
export function rejectionReason(error: unknown): string {
  return error instanceof ConcordError ? `update rejected (${error.code}): ${error.message}` : 'update rejected';
}

export function staleTask(taskId: string): ConcordError {
  return new ConcordError(ErrorCode.STALE_ROUND, `task ${taskId} is not open: its round has closed, the run moved on, or it was never issued`, { details: { field: 'taskId', received: taskId } });
}

export function otherMembersTask(taskId: string): ConcordError {
  return new ConcordError(ErrorCode.FORBIDDEN, `task ${taskId} was issued to another member`, { details: { field: 'taskId' } });
}

export function notDelivered(taskId: string): ConcordError {
  return new ConcordError(ErrorCode.CONFLICT, `task ${taskId} has not been delivered yet`, { details: { field: 'taskId' } });
}

function mismatch(field: string, expected: unknown, received: unknown): ConcordError {
  return new ConcordError(ErrorCode.INVALID_MESSAGE, `${field} should be ${JSON.stringify(expected)}, received ${JSON.stringify(received)}`, {
    details: { field, expected, received },
  });
}
