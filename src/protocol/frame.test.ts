import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode } from './errors.js';
import { FRAME_MAGIC, decodeFrame, encodeFrame } from './frame.js';
import { makeParameters } from './tensors.js';

const parameters = () => makeParameters([{ name: 'w', shape: [2, 2] }, { name: 'b', shape: [1] }], Float32Array.from([1, -2.5, 3, 0.125, 7]));

const failsWith = (code: string, field: string) => (e: unknown) =>
  (e as { code: string }).code === code && (e as { details: { field: string } }).details.field === field;

test('the wire layout: magic, u32 LE header length, JSON header, zero padding to 4, float32 LE payload', () => {
  const frame = encodeFrame({ kind: 'x' }, makeParameters([{ name: 'w', shape: [2] }], Float32Array.from([1, -2])));
  const json = '{"kind":"x","tensors":[{"name":"w","shape":[2]}]}'; // 49 bytes: 8 + 49 = 57, 3 bytes of padding
  const expected = [
    ...[0x43, 0x43, 0x4e, 0x44], // "CCND"
    ...[49, 0, 0, 0],
    ...Array.from(json, (c) => c.charCodeAt(0)),
    ...[0, 0, 0],
    ...[0x00, 0x00, 0x80, 0x3f], // 1.0f
    ...[0x00, 0x00, 0x00, 0xc0], // -2.0f
  ];
  assert.deepEqual(Array.from(frame), expected);
  assert.equal(new DataView(frame.buffer).getUint32(0, true), FRAME_MAGIC);
});

test('encode → decode round-trips the header (UTF-8 included) and the parameters', () => {
  const header = { protocolVersion: 1, taskId: 'tâche-✓', metrics: { loss: 0.5 } };
  const decoded = decodeFrame(encodeFrame(header, parameters()));
  assert.deepEqual(decoded.header, header, 'the manifest is the frame\'s own; the header is the message');
  assert.deepEqual(Array.from(decoded.parameters!.data), [1, -2.5, 3, 0.125, 7]);
  assert.deepEqual(decoded.parameters!.specs, parameters().specs);
});

test('a caller-supplied tensors field is replaced by the real manifest, or dropped without parameters', () => {
  assert.deepEqual(decodeFrame(encodeFrame({ a: 1, tensors: 'forged' })).header, { a: 1 });
  const decoded = decodeFrame(encodeFrame({ tensors: [{ name: 'z', shape: [9] }] }, parameters()));
  assert.deepEqual(decoded.parameters!.specs, parameters().specs);
  assert.equal('tensors' in decoded.header, false, 'the manifest is the frame\'s, not part of the message');
});

test('decode returns a zero-copy view of an aligned payload', () => {
  const frame = encodeFrame({ kind: 'x' }, parameters());
  const data = decodeFrame(frame).parameters!.data;
  assert.equal(data.buffer, frame.buffer);
  frame[frame.length - 4] = 0; // mutating the frame shows through the view
  frame[frame.length - 3] = 0;
  frame[frame.length - 2] = 0;
  frame[frame.length - 1] = 0;
  assert.equal(data[4], 0);
});

test('an unaligned input (a pooled Node Buffer at an odd offset) decodes to the right values', () => {
  const frame = encodeFrame({ kind: 'x' }, parameters());
  const pool = Buffer.alloc(frame.length + 3, 0x7f);
  pool.set(frame, 3);
  const unaligned = pool.subarray(3);
  assert.equal(unaligned.byteOffset % 4, 3);
  const data = decodeFrame(unaligned).parameters!.data;
  assert.deepEqual(Array.from(data), [1, -2.5, 3, 0.125, 7]);
  assert.notEqual(data.buffer, pool.buffer);
});

test('a Node Buffer holding the frame decodes like the Uint8Array it is', () => {
  const frame = encodeFrame({ kind: 'x' }, parameters());
  const decoded = decodeFrame(Buffer.from(frame));
  assert.deepEqual(Array.from(decoded.parameters!.data), [1, -2.5, 3, 0.125, 7]);
});

test('malformed frames are refused, naming the field', () => {
  const good = encodeFrame({ kind: 'x' }, parameters());
  assert.throws(() => decodeFrame(new Uint8Array(7)), failsWith(ErrorCode.INVALID_MESSAGE, 'frame'));
  const badMagic = good.slice();
  badMagic.set([0x4a, 0x55, 0x4e, 0x4b]); // "JUNK"
  assert.throws(() => decodeFrame(badMagic), (e: unknown) => failsWith(ErrorCode.INVALID_MESSAGE, 'frame.magic')(e) && (e as { details: { received: string } }).details.received === 'JUNK');
  const longHeader = good.slice();
  new DataView(longHeader.buffer).setUint32(4, good.length, true);
  assert.throws(() => decodeFrame(longHeader), failsWith(ErrorCode.INVALID_MESSAGE, 'frame.headerLength'));
  const notJson = good.slice();
  notJson[8] = 0x3c; // '<'
  assert.throws(() => decodeFrame(notJson), failsWith(ErrorCode.INVALID_MESSAGE, 'frame.header'));
  assert.throws(() => decodeFrame(withHeaderText('[1]')), failsWith(ErrorCode.INVALID_MESSAGE, 'frame.header'));
  assert.throws(() => decodeFrame(withHeaderText('\uFEFF{}')), failsWith(ErrorCode.INVALID_MESSAGE, 'frame.header'), 'a byte-order mark is not stripped');
  assert.throws(() => decodeFrame(good.subarray(0, good.length - 4)), failsWith(ErrorCode.SHAPE_MISMATCH, 'payload'));
  const payloadWithoutManifest = new Uint8Array(16);
  payloadWithoutManifest.set(withHeaderText('{}'));
  assert.throws(() => decodeFrame(payloadWithoutManifest), failsWith(ErrorCode.INVALID_MESSAGE, 'tensors'));
  assert.throws(() => decodeFrame(withHeaderText('{"tensors":[{"name":"w","shape":[-1]}]}')), failsWith(ErrorCode.INVALID_MESSAGE, 'tensors[0].shape'));
});

test('a header that is not valid UTF-8 is refused, not read with replacement characters', () => {
  // {"taskId":"a\xFFb"}: a lone 0xFF byte, and an overlong encoding of "/" (0xC0 0xAF).
  for (const bad of [[0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80]]) {
    const json = [...new TextEncoder().encode('{"taskId":"a'), ...bad, ...new TextEncoder().encode('b"}')];
    const frame = withHeaderBytes(Uint8Array.from(json));
    assert.throws(
      () => decodeFrame(frame),
      (e: unknown) => failsWith(ErrorCode.INVALID_MESSAGE, 'frame.header')(e) && (e as Error).message === 'frame header is not valid UTF-8',
      bad.map((b) => b.toString(16)).join(' '),
    );
  }
  // Valid multi-byte text still decodes.
  assert.deepEqual(decodeFrame(withHeaderText('{"taskId":"tâche-✓-𝄞"}')).header, { taskId: 'tâche-✓-𝄞' });
});

/** A frame whose header is exactly `text`, with no payload. */
function withHeaderText(text: string): Uint8Array {
  return withHeaderBytes(new TextEncoder().encode(text));
}

function withHeaderBytes(json: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + json.length + ((4 - ((8 + json.length) % 4)) % 4));
  new DataView(out.buffer).setUint32(0, FRAME_MAGIC, true);
  new DataView(out.buffer).setUint32(4, json.length, true);
  out.set(json, 8);
  return out;
}
