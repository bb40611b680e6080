// What a visitor of /join is about to join, shown before they pick any data: the
// consortium, whether enrollment is open, and the runs under way with the input their models
// take (shape, feature values or ids, classes), so the page can say whether the visitor's
// data fits. Under open enrollment anyone may enroll, so anyone may ask; otherwise only the
// holder of a valid member invitation, which the page takes from its `?invitation=` address.

import { invitationCodeHash, redeemInvitation } from '../governance/invitations.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { ModelSpec } from '../protocol/messages.js';
import type { Storage } from '../storage/storage.js';

export interface JoinRun {
  runId: string;
  name: string;
  status: 'pending' | 'running';
  rounds: number;
  roundsDone: number;
  /** The model's input contract (its family's ModelIO): ids models say how far ids go. */
  model: { family: string; inputShape: number[]; input: 'features' | 'ids'; classes: number; vocabulary?: number };
}

export interface JoinContext {
  consortium: string | null;
  openEnrollment: boolean;
  /** The invitation was checked and may be redeemed (null: none given). */
  invitation: { valid: true; memberName: string | null; expiresAt: number } | null;
  runs: JoinRun[];
}

export interface JoinContextOptions {
  storage: Storage;
  openEnrollment: boolean;
  consortium: () => string | null;
}

async function modelIo(model: ModelSpec): Promise<Omit<JoinRun['model'], 'family'>> {
  // Loaded on demand: the families bring TF.js, which the rest of this module does not need.
  const { familyOf } = await import('../model/families/index.js');
  const io = familyOf(model).io(model);
  return { inputShape: [...io.inputShape], input: io.input, classes: io.classes, ...(io.vocabulary !== undefined ? { vocabulary: io.vocabulary } : {}) };
}

export async function joinContext(options: JoinContextOptions, invitation: string | undefined): Promise<JoinContext> {
  const { storage } = options;
  let checked: JoinContext['invitation'] = null;
  if (invitation !== undefined && invitation !== '') {
    const record = await storage.getInvitation(invitationCodeHash(invitation));
    // The same checks as redeeming it (unknown, used, expired), bar the member's name, not known yet.
    redeemInvitation(record, invitation, { memberName: record?.memberName ?? '' });
    if (record!.role !== 'member') {
      throw new ConcordError(ErrorCode.FORBIDDEN, `this invitation is for a ${record!.role}, not a member: redeem it with "concord tokens redeem"`, { details: { field: 'invitation', expected: 'member', received: record!.role } });
    }
    checked = { valid: true, memberName: record!.memberName, expiresAt: record!.expiresAt };
  } else if (!options.openEnrollment) {
    throw new ConcordError(ErrorCode.UNAUTHENTICATED, 'this coordinator admits members only with an invitation: open the link the operator sent you (it ends in ?invitation=…)', {
      details: { field: 'invitation', reason: 'invitation-required' },
    });
  }
  const runs: JoinRun[] = [];
  for (const run of await storage.listRuns()) {
    if (run.status !== 'pending' && run.status !== 'running') continue;
    runs.push({
      runId: run.runId,
      name: run.config.name,
      status: run.status,
      rounds: run.config.rounds,
      roundsDone: (await storage.lastRound(run.runId))?.round ?? 0,
      model: { family: run.config.model.family, ...(await modelIo(run.config.model)) },
    });
  }
  return { consortium: options.consortium(), openEnrollment: options.openEnrollment, invitation: checked, runs };
}
