import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../protocol/errors.js';
import { canonicalJson, signingBytes, SigningDomain } from './canonical.js';

describe('canonicalJson (RFC 8785)', () => {
  it('sorts keys recursively and drops whitespace', () => {
    assert.equal(canonicalJson({ b: [3, { z: 1, a: null }], a: 'x', c: true }), '{"a":"x","b":[3,{"a":null,"z":1}],"c":true}');
  });

  it('orders keys by UTF-16 code units, as in RFC 8785 section 3.2.3', () => {
    const value = { '\u20ac': 'Euro Sign', '\r': 'Carriage Return', '\ufb33': 'Hebrew Letter Dalet With Dagesh', '1': 'One', '\ud83d\ude00': 'Emoji: Grinning Face', '\u0080': 'Control', '\u00f6': 'Latin Small Letter O With Diaeresis' };
    // Expected order from the RFC: \r, 1, \u0080, ö, €, 😀, דּ (UTF-16 order puts the surrogate pair before U+FB33).
    assert.equal(
      canonicalJson(value),
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });

  it('writes numbers in ECMAScript shortest form (RFC 8785 appendix B values)', () => {
    assert.equal(canonicalJson([0, -0, 1e21, 1e-7, 0.000001, 333333333.3333333, 9007199254740991, 1.5e300, -1.25]), '[0,0,1e+21,1e-7,0.000001,333333333.3333333,9007199254740991,1.5e+300,-1.25]');
  });

  it('escapes strings as JSON.stringify does and omits undefined properties', () => {
    assert.equal(canonicalJson({ s: 'a"b\\c\n\u0001', skip: undefined }), '{"s":"a\\"b\\\\c\\n\\u0001"}');
  });

  it('refuses what JSON cannot carry, naming where it sits', () => {
    assert.throws(() => canonicalJson({ a: [1, Number.NaN] }), (e: { code: string; details: { field: string } }) => e.code === ErrorCode.INVALID_ARGUMENT && e.details.field === 'a[1]');
    assert.throws(() => canonicalJson({ when: new Date(0) }), (e: { details: { field: string; received: string } }) => e.details.field === 'when' && e.details.received === 'Date');
    assert.throws(() => canonicalJson([undefined]), (e: { details: { field: string } }) => e.details.field === '[0]');
  });

  it('prefixes signed bytes with their domain', () => {
    assert.equal(new TextDecoder().decode(signingBytes(SigningDomain.AUDIT_ENTRY, { b: 1, a: 2 })), 'concord/audit-entry/v1\n{"a":2,"b":1}');
  });
});
