// The one place where error codes become the CLI's exit status: sysexits(3) codes, so a
// script can tell a mistake in how a command was called from bad input, a missing file or
// run, a refused token, an unreachable coordinator and a bug. Exit 70 (EX_SOFTWARE) is
// for bugs only; a person's mistake never ends there.

import { ErrorCode } from '../protocol/errors.js';

/** A command called wrongly: unknown option, missing argument, bad option value (commander's errors). */
export const EX_USAGE = 64;
/** A bug in Concord, or anything thrown that is not a ConcordError. */
export const EX_SOFTWARE = 70;

const EXIT: Record<ErrorCode, number> = {
  [ErrorCode.INVALID_ARGUMENT]: 65, // EX_DATAERR: the input data or configuration is wrong
  [ErrorCode.INVALID_MESSAGE]: 65,
  [ErrorCode.PROTOCOL_VERSION]: 65,
  [ErrorCode.SHAPE_MISMATCH]: 65,
  [ErrorCode.NON_FINITE]: 65,
  [ErrorCode.PAYLOAD_TOO_LARGE]: 65,
  [ErrorCode.STALE_ROUND]: 65,
  [ErrorCode.CONFLICT]: 65,
  [ErrorCode.NOT_FOUND]: 66, // EX_NOINPUT: a file, run or plan that does not exist
  [ErrorCode.UNAUTHENTICATED]: 77, // EX_NOPERM
  [ErrorCode.FORBIDDEN]: 77,
  [ErrorCode.UNAVAILABLE]: 69, // EX_UNAVAILABLE: the coordinator cannot be reached, or cannot do it now
  [ErrorCode.NOT_ENOUGH_MEMBERS]: 69,
  [ErrorCode.STORAGE]: 74, // EX_IOERR
  [ErrorCode.INTERNAL]: EX_SOFTWARE,
};

export function exitCodeOf(code: ErrorCode): number {
  return EXIT[code] ?? EX_SOFTWARE;
}
