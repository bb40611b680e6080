import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import Fastify from 'fastify';
import { FRAME_CONTENT_TYPE } from '../protocol/frame.js';
import { installBodyParsers } from './auth.js';
import { frameBodyDigest, releaseFrameBody } from './frame-body.js';
import { installErrorHandler } from './http-errors.js';

const LIMIT = 1 << 20;

/** A server whose route reports the body it received, and hands its memory back when asked (as the result route does for a summed update). */
async function server(limit = LIMIT) {
  const app = Fastify({ bodyLimit: limit });
  installBodyParsers(app, limit);
  installErrorHandler(app, limit);
  const bodies: Buffer[] = [];
  app.post<{ Querystring: { release?: string } }>('/in', async (request) => {
    const body = request.body as Buffer;
    bodies.push(body);
    const answer = { bytes: body.byteLength, sha256: createHash('sha256').update(body).digest('hex'), digest: frameBodyDigest(request) };
    if (request.query.release === '1') releaseFrameBody(request);
    return answer;
  });
  await app.ready();
  return { app, bodies };
}

const post = (app: Awaited<ReturnType<typeof server>>['app'], payload: Buffer | Readable, release = false) =>
  app.inject({ method: 'POST', url: `/in${release ? '?release=1' : ''}`, headers: { 'content-type': FRAME_CONTENT_TYPE }, payload });

test('a frame body arrives whole, with the SHA-256 of exactly its bytes, announced or chunked', async () => {
  const { app } = await server();
  for (const size of [0, 10, 70_000, 400_000]) {
    const bytes = randomBytes(size);
    const expected = createHash('sha256').update(bytes).digest('hex');
    const announced = await post(app, bytes);
    assert.equal(announced.statusCode, 200);
    assert.deepEqual(announced.json(), { bytes: size, sha256: expected, digest: expected });
    // No content-length: the stream's chunks are joined at the end.
    const chunked = await post(app, Readable.from([bytes.subarray(0, size >> 1), bytes.subarray(size >> 1)]));
    assert.deepEqual(chunked.json(), { bytes: size, sha256: expected, digest: expected });
  }
  await app.close();
});

test('a body announced above 16 MiB is not given its memory up front: it arrives whole as it is sent, with its digest, and a short one is refused', async () => {
  const { app } = await server(20 * 1024 * 1024);
  const bytes = randomBytes(17 * 1024 * 1024);
  const expected = createHash('sha256').update(bytes).digest('hex');
  const answer = await post(app, bytes);
  assert.deepEqual(answer.json(), { bytes: bytes.length, sha256: expected, digest: expected });
  const short = await app.inject({ method: 'POST', url: '/in', headers: { 'content-type': FRAME_CONTENT_TYPE, 'content-length': String(17 * 1024 * 1024) }, payload: Readable.from([bytes.subarray(0, 1000)]) });
  assert.equal(short.statusCode, 400);
  await app.close();
});

test('a body over the limit is refused as PAYLOAD_TOO_LARGE, announced or not, and a length that lies is refused', async () => {
  const { app } = await server();
  const big = await post(app, randomBytes(LIMIT + 1));
  assert.equal(big.statusCode, 413);
  assert.match(big.json().error.message, /exceeds the limit of 1048576 bytes/);
  const streamed = await post(app, Readable.from([randomBytes(LIMIT), randomBytes(10)]));
  assert.equal(streamed.statusCode, 413);
  const lying = await app.inject({ method: 'POST', url: '/in', headers: { 'content-type': FRAME_CONTENT_TYPE, 'content-length': '100000' }, payload: Readable.from([randomBytes(50_000)]) });
  assert.equal(lying.statusCode, 400);
  await app.close();
});

test('a released body\'s memory takes the next body of about its size, holding exactly the new bytes', async () => {
  const { app, bodies } = await server();
  const first = randomBytes(300_000);
  await post(app, first, true);
  // Smaller, but within twice: received into the first body's memory, cut to its own length.
  const second = randomBytes(200_000);
  const answer = await post(app, second);
  assert.deepEqual(answer.json(), { bytes: 200_000, sha256: createHash('sha256').update(second).digest('hex'), digest: createHash('sha256').update(second).digest('hex') });
  assert.equal(bodies[1]!.buffer, bodies[0]!.buffer, 'the memory was reused');
  assert.ok(bodies[1]!.equals(second));
  // Not released: the next body gets fresh memory, so a body still in use is never overwritten.
  const third = randomBytes(200_000);
  await post(app, third);
  assert.notEqual(bodies[2]!.buffer, bodies[1]!.buffer);
  assert.ok(bodies[1]!.equals(second), 'the body still in use is intact');
  // Too small a released buffer is not used for a body more than it holds.
  await post(app, randomBytes(100_000), true);
  const fourth = randomBytes(250_000);
  await post(app, fourth);
  assert.notEqual(bodies[4]!.buffer, bodies[3]!.buffer);
  assert.ok(bodies[4]!.equals(fourth));
  await app.close();
});
