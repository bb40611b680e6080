// What the member loop does after a failed exchange with the coordinator: the whole retry
// policy in one place. Only what can heal is retried — a coordinator that cannot be reached
// (connection refused, reset, timed out), an HTTP 5xx, a 429 — and a coordinator that no
// longer knows the member's id (a fresh database) gets a fresh enrollment. Everything else
// needs a person: a missing or refused invitation, a revoked member, a name enrolled with
// another key, a certificate the node does not trust, a request the coordinator calls
// malformed, a task this node cannot read. Retrying those would repeat the refusal forever,
// so the node stops with the reason. A refusal of one result (stale, failed validation) ends
// only that task.

import { ErrorCode, type ConcordError } from '../protocol/errors.js';

/** What the loop was doing: enrolling, asking for a task, or sending a task's result. */
export type Exchange = 'enroll' | 'poll' | 'result';

/** retry: back off and try again; enroll-again: forget the member id and enroll; skip-result: give up this task only; stop: end the node with the error. */
export type Recovery = 'retry' | 'enroll-again' | 'skip-result' | 'stop';

export function recoveryFor(error: ConcordError, during: Exchange): Recovery {
  // The client puts the coordinator's HTTP status in details.status; without one, no answer came.
  const status = typeof error.details.status === 'number' ? error.details.status : undefined;
  if (status === undefined) {
    if (error.code === ErrorCode.UNAVAILABLE && error.details.reason === 'unreachable') return 'retry';
    // Anything else arose here (a certificate not trusted, a task that does not parse, a full disk),
    // except that a result this member could not even encode is that one task's problem.
    return during === 'result' && error.details.reason !== 'tls' ? 'skip-result' : 'stop';
  }
  if (status >= 500 || status === 429) return 'retry';
  if (status === 401) return error.details.reason === 'unknown-member' && during !== 'enroll' ? 'enroll-again' : 'stop';
  // A result the coordinator refused (stale, wrong shape, not finite, too large) ends that task;
  // being revoked, or speaking another protocol version, ends the node.
  if (during === 'result' && error.code !== ErrorCode.PROTOCOL_VERSION && error.details.reason !== 'revoked') return 'skip-result';
  return 'stop';
}
