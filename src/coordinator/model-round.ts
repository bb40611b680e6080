// Which round's model a download or export of a run means. Asked for no particular round,
// it is the last completed one — but never, silently, the untrained initial model of a run
// that completed no round, nor the model of a run that failed: both are refused with the
// reason, and an explicit round (0 included) is served as asked.

import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { RunRecord } from '../storage/storage.js';

export function modelRound(run: RunRecord, lastCompleted: number, requested: number | undefined): number {
  if (requested !== undefined) {
    if (!Number.isInteger(requested) || requested < 0 || requested > lastCompleted) {
      throw new ConcordError(ErrorCode.NOT_FOUND, `run ${run.runId} has no completed round ${requested} (last completed: ${lastCompleted})`, {
        details: { field: 'round', expected: `0..${lastCompleted}`, received: requested },
      });
    }
    return requested;
  }
  if (run.status === 'failed') {
    const anyway = lastCompleted > 0 ? `; its last completed round is ${lastCompleted}: ask for it with --round ${lastCompleted} (round=${lastCompleted}) to take it anyway` : '';
    throw new ConcordError(ErrorCode.CONFLICT, `run ${run.runId} failed (${run.error ?? 'no reason given'}), so it has no final model${anyway}`, {
      details: { field: 'round', expected: 'a completed run, or an explicit round', received: run.status },
    });
  }
  if (lastCompleted === 0) {
    throw new ConcordError(ErrorCode.CONFLICT, `run ${run.runId} (${run.status}) has completed no round yet, so its only model is the untrained initial one; ask for round 0 explicitly (--round 0) to take that`, {
      details: { field: 'round', expected: 'a run with a completed round, or round 0 explicitly', received: 0 },
    });
  }
  return lastCompleted;
}
