// Runs simulated members' tasks in this thread: decodes the task frame as a member node
// would, answers it with the member's TaskHandler (the node's own stack: TF.js training,
// DP-SGD, secure aggregation), and encodes the result frame it would send. Members are
// looked up lazily, so a population of thousands holds state only for those asked.

import { answerTask } from '../node/answer-task.js';
import type { TaskHandler } from '../node/member.js';
import { ConcordError, ErrorCode, isConcordError } from '../protocol/errors.js';
import { decodeFrame, encodeFrame } from '../protocol/frame.js';
import { PROTOCOL_VERSION, parseTaskHeader } from '../protocol/messages.js';
import type { MemberAnswer, MemberExecutor } from './memory-grid.js';

/** The handler of a member, or undefined for one this executor does not hold. */
export type HandlerSource = (memberId: string) => TaskHandler | undefined | Promise<TaskHandler | undefined>;

export interface LocalExecutorOptions {
  /** Tasks run at once (TF.js trains one at a time per thread anyway). Default 1. */
  concurrency?: number;
}

export class LocalExecutor implements MemberExecutor {
  private running = 0;
  private readonly queue: (() => void)[] = [];
  private readonly concurrency: number;

  constructor(
    private readonly handlers: HandlerSource,
    options: LocalExecutorOptions = {},
  ) {
    this.concurrency = Math.max(1, options.concurrency ?? 1);
  }

  async run(memberId: string, frame: Uint8Array, signal: AbortSignal): Promise<MemberAnswer> {
    await this.slot(signal);
    try {
      if (signal.aborted) return { ok: false, reason: 'abandoned: the round moved on' };
      return await answerFrame(await this.handlers(memberId), memberId, frame);
    } finally {
      this.running--;
      this.queue.shift()?.();
    }
  }

  private slot(signal: AbortSignal): Promise<void> {
    if (this.running < this.concurrency) {
      this.running++;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const go = (): void => {
        signal.removeEventListener('abort', skip);
        this.running++;
        resolve();
      };
      // Abandoned while queued: take the slot and give it straight back (run() sees the abort).
      const skip = (): void => {
        const i = this.queue.indexOf(go);
        if (i >= 0) this.queue.splice(i, 1);
        this.running++;
        resolve();
      };
      signal.addEventListener('abort', skip, { once: true });
      this.queue.push(go);
    });
  }
}

/** One task frame answered by `handler` as a member node answers it: a result frame, or its refusal. */
export async function answerFrame(handler: TaskHandler | undefined, memberId: string, frame: Uint8Array): Promise<MemberAnswer> {
  if (!handler) throw new ConcordError(ErrorCode.NOT_FOUND, `no simulated member ${memberId} here`, { details: { field: 'memberId', received: memberId } });
  const decoded = decodeFrame(frame);
  try {
    const header = parseTaskHeader(decoded.header);
    const answer = await answerTask(handler, header, decoded.parameters ?? null);
    return { ok: true, body: encodeFrame({ protocolVersion: PROTOCOL_VERSION, ...answer.result }, answer.parameters) };
  } catch (error) {
    // The node declines (FORBIDDEN: its own refusal) or reports that the task failed on it; the same words here.
    const reason = isConcordError(error) && error.code === ErrorCode.FORBIDDEN ? error.message : `the task failed on the member: ${isConcordError(error) ? `${error.code}: ` : ''}${error instanceof Error ? error.message : String(error)}`;
    return { ok: false, reason: reason.slice(0, 2000) };
  }
}
