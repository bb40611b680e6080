// One error type for the whole project. A stable code says what went wrong, the message
// says what was expected, and `details` points at the offending field. Transports map codes
// to status codes (see coordinator/http-errors.ts); nothing else should.

export const ErrorCode = {
  INVALID_ARGUMENT: 'CONCORD_ERR_INVALID_ARGUMENT',
  INVALID_MESSAGE: 'CONCORD_ERR_INVALID_MESSAGE',
  PROTOCOL_VERSION: 'CONCORD_ERR_PROTOCOL_VERSION',
  SHAPE_MISMATCH: 'CONCORD_ERR_SHAPE_MISMATCH',
  NON_FINITE: 'CONCORD_ERR_NON_FINITE',
  PAYLOAD_TOO_LARGE: 'CONCORD_ERR_PAYLOAD_TOO_LARGE',
  UNAUTHENTICATED: 'CONCORD_ERR_UNAUTHENTICATED',
  FORBIDDEN: 'CONCORD_ERR_FORBIDDEN',
  NOT_FOUND: 'CONCORD_ERR_NOT_FOUND',
  STALE_ROUND: 'CONCORD_ERR_STALE_ROUND',
  CONFLICT: 'CONCORD_ERR_CONFLICT',
  NOT_ENOUGH_MEMBERS: 'CONCORD_ERR_NOT_ENOUGH_MEMBERS',
  UNAVAILABLE: 'CONCORD_ERR_UNAVAILABLE',
  STORAGE: 'CONCORD_ERR_STORAGE',
  INTERNAL: 'CONCORD_ERR_INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface ErrorDetails {
  /** Dotted path of the offending field, e.g. `tensors.dense1/kernel.shape`. */
  field?: string;
  expected?: unknown;
  received?: unknown;
  [key: string]: unknown;
}

export class ConcordError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, options: { details?: ErrorDetails; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ConcordError';
    this.code = code;
    this.details = options.details ?? {};
  }

  toJSON(): { code: ErrorCode; message: string; details: ErrorDetails } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export function isConcordError(value: unknown): value is ConcordError {
  return value instanceof ConcordError;
}

/** Converts anything thrown into a ConcordError once, at the edge. */
export function toConcordError(value: unknown): ConcordError {
  if (value instanceof ConcordError) return value;
  const message = value instanceof Error ? value.message : String(value);
  return new ConcordError(ErrorCode.INTERNAL, message, { cause: value });
}
