// The one place where error codes become HTTP status codes, and where anything thrown
// inside a route is turned into the wire's error body {error: {code, message, details}}.

import type { FastifyError, FastifyInstance } from 'fastify';
import { ConcordError, ErrorCode, toConcordError } from '../protocol/errors.js';
import { unsupportedContentType } from './auth.js';

const STATUS: Record<ErrorCode, number> = {
  [ErrorCode.INVALID_ARGUMENT]: 400,
  [ErrorCode.INVALID_MESSAGE]: 400,
  [ErrorCode.PROTOCOL_VERSION]: 400,
  [ErrorCode.SHAPE_MISMATCH]: 422,
  [ErrorCode.NON_FINITE]: 422,
  [ErrorCode.PAYLOAD_TOO_LARGE]: 413,
  [ErrorCode.UNAUTHENTICATED]: 401,
  [ErrorCode.FORBIDDEN]: 403,
  [ErrorCode.NOT_FOUND]: 404,
  [ErrorCode.STALE_ROUND]: 409,
  [ErrorCode.CONFLICT]: 409,
  [ErrorCode.NOT_ENOUGH_MEMBERS]: 503,
  [ErrorCode.UNAVAILABLE]: 503,
  [ErrorCode.STORAGE]: 500,
  [ErrorCode.INTERNAL]: 500,
};

export function httpStatusOf(code: ErrorCode): number {
  return STATUS[code] ?? 500;
}

/** Fastify's own errors (body too large, bad content type, bad JSON) get our codes too. */
function fromFastify(error: FastifyError, bodyLimit: number, contentType: string | undefined): ConcordError {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ConcordError(ErrorCode.PAYLOAD_TOO_LARGE, `request body exceeds the limit of ${bodyLimit} bytes`, {
        details: { field: 'body', expected: `<= ${bodyLimit} bytes` },
      });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return unsupportedContentType(contentType);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ConcordError(ErrorCode.INVALID_MESSAGE, `request body is not valid JSON: ${error.message}`, { details: { field: 'body' } });
    default:
      if (error.statusCode !== undefined && error.statusCode < 500) {
        return new ConcordError(ErrorCode.INVALID_MESSAGE, error.message, { details: { field: 'request' } });
      }
      return toConcordError(error);
  }
}

/** `onRefusal` hears the code of every error answered (for metrics). */
export function installErrorHandler(app: FastifyInstance, bodyLimit: number, onRefusal: (code: ErrorCode) => void = () => undefined): void {
  app.setErrorHandler((raw: FastifyError | ConcordError, request, reply) => {
    const error = raw instanceof ConcordError ? raw : fromFastify(raw, bodyLimit, request.headers['content-type']);
    onRefusal(error.code);
    const status = httpStatusOf(error.code);
    if (status >= 500) request.log.error({ err: raw }, error.message);
    void reply.code(status).type('application/json').send({ error: error.toJSON() });
  });
  app.setNotFoundHandler((request, reply) => {
    const error = new ConcordError(ErrorCode.NOT_FOUND, `no route ${request.method} ${request.url}`, { details: { field: 'url' } });
    onRefusal(error.code);
    void reply.code(404).send({ error: error.toJSON() });
  });
}
