// A member node trains only on plans its own data owner approved. With the owner's public
// key configured on the node (`concord node --owner-key`), every task that would train on
// the member's data (train, and secure-aggregation stages) must carry the plan and an
// approval of exactly that plan, signed with that key; anything else is declined. The key
// comes from the node's own configuration, never from the coordinator, so a coordinator
// that lies about approvals cannot make the node train.

import { readFile } from 'node:fs/promises';
import { assertPublicKey } from '../governance/identity.js';
import { assertApprovedLocally, type PlanApproval, type PlanInput } from '../governance/plans.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { TaskHeader } from '../protocol/messages.js';
import type { TaskHandler } from './member.js';

export interface ApprovalGuardOptions {
  /** The data owner's Ed25519 public key (base64url). */
  ownerKey: string;
  /** This member's name, which the approval must be given for. */
  member: string;
  log?: (line: string) => void;
}

/** Throws FORBIDDEN unless the task carries a plan approved, with `ownerKey`, for `member`. */
export function assertTaskApproved(task: TaskHeader, options: ApprovalGuardOptions): void {
  if (!task.plan) {
    throw new ConcordError(ErrorCode.FORBIDDEN, "this node trains only on training plans its data owner approved; the task carries no plan", {
      details: { field: 'plan', reason: 'missing-plan' },
    });
  }
  try {
    assertApprovedLocally(task.plan as PlanInput, task.approval as PlanApproval | undefined, options.ownerKey, { member: options.member });
  } catch (error) {
    if (error instanceof ConcordError && error.code === ErrorCode.FORBIDDEN) throw error;
    // A plan that does not even parse cannot have been approved.
    throw new ConcordError(ErrorCode.FORBIDDEN, `the task's plan is not a valid training plan: ${(error as Error).message}`, { details: { field: 'plan', reason: 'invalid-plan' }, cause: error });
  }
}

/** The owner key from `--owner-key`: the base64url key itself, or a file holding it (an identity file's `publicKey`, or the bare key). */
export async function readOwnerKey(value: string): Promise<string> {
  const trimmed = value.trim();
  if (/^[A-Za-z0-9_-]{43}$/.test(trimmed)) return trimmed;
  let text: string;
  try {
    text = (await readFile(trimmed, 'utf8')).trim();
  } catch (cause) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `--owner-key is neither a base64url Ed25519 public key nor a readable file: ${(cause as Error).message}`, {
      details: { field: '--owner-key', expected: 'a 43-character base64url key or a file', received: value },
      cause,
    });
  }
  let key: unknown = text;
  if (text.startsWith('{')) key = (JSON.parse(text) as { publicKey?: unknown }).publicKey;
  assertPublicKey(key, '--owner-key');
  return key;
}

/** Wraps a handler so that training and secure-aggregation tasks run only under an approved plan. */
export function withOwnerApproval(handler: TaskHandler, options: ApprovalGuardOptions): TaskHandler {
  assertPublicKey(options.ownerKey, '--owner-key');
  const check = (task: TaskHeader): void => {
    try {
      assertTaskApproved(task, options);
    } catch (error) {
      options.log?.(`refusing round ${task.round} of run ${task.runId}: ${(error as Error).message}`);
      throw error;
    }
  };
  return {
    async train(task, global) {
      check(task);
      return handler.train(task, global);
    },
    evaluate: (task, global) => handler.evaluate(task, global),
    ...(handler.secagg
      ? {
          async secagg(task, global) {
            check(task);
            return handler.secagg!(task, global);
          },
        }
      : {}),
  };
}
