// What a member sends back for a task, whoever carries it: the node's loop (member.ts) and
// the browser member's (web/src/join/member-loop.ts) both run the task with their handler
// stack here and post the result header and tensors this returns. Free of Node builtins so
// the browser bundles it.

import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { AnyTaskHeader, ResultHeader, TaskHeader } from '../protocol/messages.js';
import type { Parameters } from '../protocol/tensors.js';
import type { TaskHandler } from './member.js';

export interface TaskAnswer {
  result: Omit<ResultHeader, 'protocolVersion'>;
  parameters?: Parameters;
}

/** Runs `header` with `handler`; a handler's refusal (ConcordError FORBIDDEN) propagates for the caller to decline. */
export async function answerTask(handler: TaskHandler, header: AnyTaskHeader, global: Parameters | null): Promise<TaskAnswer> {
  const base = { taskId: header.taskId, runId: header.runId, round: header.round };
  if (header.kind === 'analytics') {
    if (!handler.analytics) throw new ConcordError(ErrorCode.FORBIDDEN, 'this member does not answer analytics queries (it holds no schema-validated data)');
    const out = await handler.analytics(header);
    return {
      result: { ...base, kind: 'analytics', stage: header.stage, payload: out.payload, numExamples: out.numExamples ?? 0, metrics: out.metrics ?? {} },
      ...(out.parameters ? { parameters: out.parameters } : {}),
    };
  }
  if (header.kind === 'secagg') {
    if (!handler.secagg) throw new ConcordError(ErrorCode.FORBIDDEN, 'this member does not support secure aggregation');
    const out = await handler.secagg(header, global);
    return {
      result: { ...base, kind: 'secagg', ...(header.stage !== undefined ? { stage: header.stage } : {}), payload: out.payload, numExamples: out.numExamples ?? 0, metrics: out.metrics ?? {} },
      ...(out.parameters ? { parameters: out.parameters } : {}),
    };
  }
  if (header.kind === 'train') {
    const out = await handler.train(header, requireModel(header, global));
    return { result: { ...base, kind: 'train', numExamples: out.numExamples, metrics: out.metrics }, parameters: out.parameters };
  }
  const out = await handler.evaluate(header, requireModel(header, global));
  return { result: { ...base, kind: 'evaluate', numExamples: out.numExamples, metrics: out.metrics } };
}

function requireModel(header: TaskHeader, global: Parameters | null): Parameters {
  if (!global) throw new ConcordError(ErrorCode.INVALID_MESSAGE, `${header.kind} task carries no model`, { details: { field: 'tensors' } });
  return global;
}
