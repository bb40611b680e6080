// The portable base64 coder (browsers) must accept and produce exactly what the native one
// (Node's Buffer, behind the same length check as before) does, or a browser member and the
// coordinator would disagree about what is valid on the wire.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '../../core/random.js';
import { type ConcordError, ErrorCode } from '../../protocol/errors.js';
import { base64Coders, decodeBase64, encodeBase64 } from './base64.js';
import { fromBase64 } from './protocol.js';

const { portable } = base64Coders;
const native = base64Coders.native!;
const hex = (b: Uint8Array | null) => (b === null ? 'null' : Buffer.from(b).toString('hex'));

test('base64: Node runs the native coder', () => {
  assert.ok(base64Coders.native);
  assert.equal(encodeBase64(new Uint8Array([1, 2, 3, 4])), 'AQIDBA==');
  assert.equal(hex(decodeBase64('AQIDBA==')), '01020304');
});

test('base64: the portable encoder gives the native strings, and both decode them back', () => {
  const random = seededRandom(7);
  const lengths = [...Array.from({ length: 70 }, (_, i) => i), 1_000, 65_537, 4 * 100_001];
  for (const length of lengths) {
    const bytes = Uint8Array.from({ length }, () => Math.floor(random() * 256));
    const text = native.encode(bytes);
    assert.equal(portable.encode(bytes), text, `${length} bytes`);
    assert.equal(hex(portable.decode(text)), hex(bytes), `${length} bytes`);
    assert.equal(hex(native.decode(text)), hex(bytes), `${length} bytes`);
  }
  // A view into a larger buffer is encoded by its own bytes only.
  const whole = Uint8Array.from({ length: 10 }, (_, i) => i);
  assert.equal(portable.encode(whole.subarray(3, 8)), native.encode(whole.subarray(3, 8)));
});

test('base64: the portable decoder accepts exactly the strings the native one does', () => {
  const named = ['', 'AA==', 'AAA=', 'AAAA', 'A===', '====', 'AB=A', 'A=AA', 'ab-_', 'ab+/', 'AAAA AAA', 'AAAAA', 'AA\nA', 'AAé=', 'AB==AAAA', 'QUJD', 'QUI=', 'QQ=='];
  for (const text of named) assert.equal(hex(portable.decode(text)), hex(native.decode(text)), JSON.stringify(text));
  // Random strings near the alphabet, with padding, URL-safe digits, blanks and other characters.
  const random = seededRandom(11);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const odd = '==-_ \n.!é\u2028';
  let accepted = 0;
  for (let trial = 0; trial < 20_000; trial++) {
    const length = 4 * (1 + Math.floor(random() * 3)) + (random() < 0.1 ? 1 : 0);
    let text = '';
    for (let i = 0; i < length; i++) text += random() < 0.75 ? alphabet[Math.floor(random() * 64)] : odd[Math.floor(random() * odd.length)];
    const expected = native.decode(text);
    if (expected) accepted++;
    assert.equal(hex(portable.decode(text)), hex(expected), JSON.stringify(text));
  }
  assert.ok(accepted > 1_000 && accepted < 19_000, `${accepted} of 20 000 accepted: the sample must hold both kinds`);
});

test('fromBase64 names the field of a string that is not base64', () => {
  assert.throws(() => fromBase64('AB=A', 'shares[2].ciphertext'), (e: ConcordError) => e.code === ErrorCode.INVALID_MESSAGE && e.details.field === 'shares[2].ciphertext');
  assert.throws(() => fromBase64('AAAA', 'pk', 32), (e: ConcordError) => e.code === ErrorCode.INVALID_MESSAGE && e.details.expected === 32 && e.details.received === 3);
});
