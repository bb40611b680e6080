// A grid for driving the secure train phase without HTTP: every task goes to its member's
// handler in this process, and every message still passes through a frame, as on the wire.

import type { Grid, OutgoingTask, TaskReply } from '../../src/coordinator/grid.js';
import type { TaskHandler } from '../../src/node/member.js';
import { decodeFrame, encodeFrame } from '../../src/protocol/frame.js';
import { PROTOCOL_VERSION, ResultHeaderSchema, type TaskHeader, parseMessage } from '../../src/protocol/messages.js';
import type { Failure } from '../../src/strategies/strategy.js';

export function memoryGrid(handlers: Map<string, TaskHandler>, sizes: Map<string, number>): Grid {
  return {
    available: () => [...sizes].map(([memberId, numExamples]) => ({ memberId, name: memberId, numExamples })),
    waitForMembers: async () => undefined,
    async sendAndReceive(tasks: OutgoingTask[]) {
      const replies: TaskReply[] = [];
      const failures: Failure[] = [];
      for (const t of tasks) {
        if (t.kind === 'analytics') throw new Error('this grid carries model tasks only');
        const header: TaskHeader = { protocolVersion: PROTOCOL_VERSION, taskId: `t-${t.memberId}`, kind: 'secagg', stage: t.stage!, payload: structuredClone(t.payload!), runId: t.runId, round: t.round, deadline: 0, model: t.model, config: t.config };
        try {
          const out = await handlers.get(t.memberId)!.secagg!(header, t.parameters ?? null);
          const frame = decodeFrame(encodeFrame({ protocolVersion: PROTOCOL_VERSION, taskId: header.taskId, kind: 'secagg', stage: t.stage, payload: out.payload, runId: t.runId, round: t.round, numExamples: out.numExamples ?? 0, metrics: {} }, out.parameters));
          replies.push({ memberId: t.memberId, header: parseMessage(ResultHeaderSchema, frame.header, 'result'), ...(frame.parameters ? { parameters: frame.parameters } : {}), bytesIn: 0, bytesOut: 0, seconds: 0 });
        } catch (error) {
          failures.push({ memberId: t.memberId, reason: `declined by the member: ${(error as Error).message}` });
        }
      }
      return { replies, failures };
    },
  };
}
