// Base64 for the SecAgg+ wire (protocol.ts), in Node and in browsers alike. Node's Buffer
// codes base64 natively at GB/s, 10–20× faster than any JS loop, and the coordinator decodes
// every member's multi-megabyte masked vector; so where a global Buffer exists it is used,
// and elsewhere (browsers) the portable coder below, which accepts and produces exactly the
// same strings (base64.test.ts compares the two). No import from Node: the check is at run
// time, so a browser bundle never pulls Buffer in.

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const PAD = 61; // '='

/** The character codes of two base64 digits, for every 12-bit value, packed for a Uint16Array store. */
const PAIRS = new Uint16Array(4096);
const IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
for (let i = 0; i < 4096; i++) {
  const first = ALPHABET.charCodeAt(i >> 6);
  const second = ALPHABET.charCodeAt(i & 63);
  PAIRS[i] = IS_LITTLE_ENDIAN ? first | (second << 8) : (first << 8) | second;
}

/** Digit values by character code; −1 outside the alphabet. Like Node, the URL-safe '-' and '_' read as 62 and 63. */
const DIGITS = new Int8Array(256).fill(-1);
for (let i = 0; i < 64; i++) DIGITS[ALPHABET.charCodeAt(i)] = i;
DIGITS['-'.charCodeAt(0)] = 62;
DIGITS['_'.charCodeAt(0)] = 63;

const latin1 = new TextDecoder('latin1');

function encodePortable(bytes: Uint8Array): string {
  const length = 4 * Math.ceil(bytes.length / 3);
  const out = new Uint8Array(length + (length % 2));
  const pairs = new Uint16Array(out.buffer, 0, out.length >> 1);
  const whole = bytes.length - (bytes.length % 3);
  let p = 0;
  for (let i = 0; i < whole; i += 3) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    pairs[p++] = PAIRS[v >>> 12]!;
    pairs[p++] = PAIRS[v & 4095]!;
  }
  const rest = bytes.length - whole;
  if (rest > 0) {
    const v = (bytes[whole]! << 16) | (rest === 2 ? bytes[whole + 1]! << 8 : 0);
    let o = 2 * p;
    out[o++] = ALPHABET.charCodeAt(v >>> 18);
    out[o++] = ALPHABET.charCodeAt((v >>> 12) & 63);
    out[o++] = rest === 2 ? ALPHABET.charCodeAt((v >>> 6) & 63) : PAD;
    out[o++] = PAD;
  }
  return latin1.decode(out.subarray(0, length));
}

/** Four digits per three bytes, '=' only as one or two trailing characters; null otherwise. */
function decodePortable(text: string): Uint8Array | null {
  if (text.length % 4 !== 0) return null;
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - padding);
  const digit = (i: number): number => {
    const c = text.charCodeAt(i);
    return c < 256 ? DIGITS[c]! : -1;
  };
  const whole = padding === 0 ? text.length : text.length - 4;
  let o = 0;
  for (let i = 0; i < whole; i += 4) {
    const a = digit(i), b = digit(i + 1), c = digit(i + 2), d = digit(i + 3);
    if ((a | b | c | d) < 0) return null;
    const v = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = v >>> 16;
    out[o++] = (v >>> 8) & 255;
    out[o++] = v & 255;
  }
  if (padding > 0) {
    const i = text.length - 4;
    const a = digit(i), b = digit(i + 1), c = padding === 1 ? digit(i + 2) : 0;
    if ((a | b | c) < 0) return null;
    const v = (a << 18) | (b << 12) | (c << 6);
    out[o++] = v >>> 16;
    if (padding === 1) out[o++] = (v >>> 8) & 255;
  }
  return out;
}

interface NativeBuffer {
  from(text: string, encoding: 'base64'): Uint8Array;
  from(buffer: ArrayBufferLike, byteOffset: number, length: number): { toString(encoding: 'base64'): string };
}
const native = (globalThis as unknown as { Buffer?: NativeBuffer }).Buffer;

function encodeNative(buffer: NativeBuffer, bytes: Uint8Array): string {
  return buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Node's decoder skips characters outside the alphabet, so the decoded length gives them away. */
function decodeNative(buffer: NativeBuffer, text: string): Uint8Array | null {
  const bytes = buffer.from(text, 'base64');
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  if (text.length % 4 !== 0 || bytes.length !== (text.length / 4) * 3 - padding) return null;
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

/** Standard base64 with padding. */
export function encodeBase64(bytes: Uint8Array): string {
  return native ? encodeNative(native, bytes) : encodePortable(bytes);
}

/**
 * The bytes of a base64 string, or null if it is not one. The result may be a view at any
 * byte offset of a larger buffer.
 */
export function decodeBase64(text: string): Uint8Array | null {
  return native ? decodeNative(native, text) : decodePortable(text);
}

/** Both coders, for tests that hold them to the same behaviour. */
export const base64Coders = {
  portable: { encode: encodePortable, decode: decodePortable },
  native: native ? { encode: (bytes: Uint8Array) => encodeNative(native, bytes), decode: (text: string) => decodeNative(native, text) } : undefined,
};
