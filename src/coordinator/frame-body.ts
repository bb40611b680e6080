// Receiving a frame body (a member's update, hundreds of kilobytes to megabytes): each
// chunk is copied once into a buffer of the announced length and hashed while it is still
// in cache, so the signature check reuses the digest instead of reading the body again.
// Fastify's `parseAs: 'buffer'` keeps the chunks and concatenates them at the end, and the
// hash then re-reads the whole body cold: at a thousand members a round, those two passes
// were a quarter of the coordinator's CPU. Same limits and errors as Fastify's reader.
//
// A body whose update the round summed on arrival is handed back (releaseFrameBody) and
// the next body of about its size is received into the same memory: writing fresh memory
// costs a page fault per 4 KiB, which made receiving a 400 KB update 20× slower than
// receiving it into memory already mapped.

import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { errorCodes, type FastifyRequest } from 'fastify';

const digests = new WeakMap<IncomingMessage, string>();

/** Bodies smaller than this are not worth reusing. */
const POOLED_MIN_BYTES = 64 * 1024;
/**
 * At most this much is kept for reuse. A thousand members upload at once, and about 600 of
 * their 400 KB bodies were in flight together (`npm run bench -- scale`), so the pool holds
 * what a round of that size has in flight anyway; it is let go once uploads stop.
 */
const POOL_MAX_BYTES = 256 * 1024 * 1024;
const POOL_IDLE_MS = 30_000;
/** Bodies announced larger than this (40× the MNIST model) are not given their memory up front. */
const PREALLOCATED_MAX_BYTES = 16 * 1024 * 1024;
/** Released buffers, whole; a body is a view of the first bytes of one. */
const pool: Buffer[] = [];
let pooledBytes = 0;
let lastRelease = 0;
let drainTimer: NodeJS.Timeout | null = null;
const wholeOf = new WeakMap<Buffer, Buffer>();

/** Empties the pool once nothing was released for POOL_IDLE_MS, so an idle coordinator holds no spare bodies. */
function drainWhenIdle(): void {
  if (drainTimer) return;
  drainTimer = setTimeout(() => {
    drainTimer = null;
    if (Date.now() - lastRelease >= POOL_IDLE_MS) {
      pool.length = 0;
      pooledBytes = 0;
    } else drainWhenIdle();
  }, POOL_IDLE_MS);
  drainTimer.unref();
}

/** A buffer for `length` bytes: a released one of at most twice that size, else fresh memory. */
function bodyBuffer(length: number): Buffer {
  if (length < POOLED_MIN_BYTES) return Buffer.allocUnsafe(length);
  for (let i = pool.length - 1; i >= 0; i--) {
    const whole = pool[i]!;
    if (whole.length >= length && whole.length <= 2 * length) {
      pool[i] = pool[pool.length - 1]!;
      pool.pop();
      pooledBytes -= whole.length;
      const body = whole.subarray(0, length);
      wholeOf.set(body, whole);
      return body;
    }
  }
  const whole = Buffer.allocUnsafeSlow(length);
  wholeOf.set(whole, whole);
  return whole;
}

/**
 * Hands a frame body's memory back for the next one. Only for a body nothing refers to any
 * more (the task board summed its update and kept no view of it); a second release is a no-op.
 */
export function releaseFrameBody(request: FastifyRequest): void {
  const body = request.body;
  if (!Buffer.isBuffer(body)) return;
  const whole = wholeOf.get(body);
  if (!whole) return;
  wholeOf.delete(body);
  if (pooledBytes + whole.length > POOL_MAX_BYTES) return;
  pool.push(whole);
  pooledBytes += whole.length;
  lastRelease = Date.now();
  drainWhenIdle();
}

/** The SHA-256 (hex) of the frame body this request carried, computed as it arrived. */
export function frameBodyDigest(request: FastifyRequest): string | undefined {
  return digests.get(request.raw);
}

/** A Fastify content-type parser for frames: the body as one Buffer, its digest remembered. */
export function receiveFrameBody(limit: number) {
  return (request: FastifyRequest, payload: IncomingMessage, done: (error: Error | null, body?: Buffer) => void): void => {
    const announced = Number(request.headers['content-length']);
    if (announced > limit) return done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
    // Memory is taken for the announced length before the request is authenticated (the
    // signature covers the body), so only up to PREALLOCATED_MAX_BYTES; a larger body, or one
    // without a length (chunked), is kept as it arrives and joined at the end, as Fastify does.
    const length = Number.isSafeInteger(announced) && announced >= 0 ? announced : null;
    const body = length !== null && length <= PREALLOCATED_MAX_BYTES ? bodyBuffer(length) : null;
    const chunks: Buffer[] = [];
    const hash = createHash('sha256');
    let received = 0;
    const stop = (): void => {
      payload.removeListener('data', onData);
      payload.removeListener('end', onEnd);
      payload.removeListener('error', onEnd);
    };
    function onData(chunk: Buffer | string): void {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      if (received + bytes.length > limit) {
        stop();
        return done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
      }
      if (length !== null && received + bytes.length > length) {
        stop();
        return done(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH());
      }
      hash.update(bytes);
      if (body) bytes.copy(body, received);
      else chunks.push(bytes);
      received += bytes.length;
    }
    function onEnd(error?: Error & { statusCode?: number }): void {
      stop();
      if (error) {
        if (!(typeof error.statusCode === 'number' && error.statusCode >= 400)) error.statusCode = 400;
        return done(error);
      }
      if (length !== null && received !== length) return done(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH());
      digests.set(request.raw, hash.digest('hex'));
      done(null, body ?? Buffer.concat(chunks, received));
    }
    payload.on('data', onData);
    payload.on('end', onEnd);
    payload.on('error', onEnd);
    payload.resume();
  };
}
