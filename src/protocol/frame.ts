// A frame is one protocol message: a JSON header followed by the parameters as raw
// little-endian float32. Layout (all integers little-endian):
//
//   0   4 bytes  magic "CCND" (43 43 4E 44)
//   4   u32      header length H in bytes (UTF-8 JSON)
//   8   H bytes  header; its `tensors` field is the manifest of the payload
//   8+H pad      zero bytes up to a multiple of 4
//   ..  4·N      float32 payload, N = Σ sizeOf(tensors[i].shape)
//
// Numbers never travel as JSON arrays: a 1M-parameter update is 4 MB, not ~20 MB of text.
//
// Plain Uint8Array, DataView and TextEncoder only, no Buffer or node:*, so the browser
// member (web/src/join) bundles this very codec. Node callers may pass a Buffer in.

import { assertLittleEndianHost } from './endian.js';
import { ConcordError, ErrorCode } from './errors.js';
import { type Parameters, type TensorSpec, totalSize } from './tensors.js';

export const FRAME_MAGIC = 0x444e4343; // the bytes "CCND" read as a u32 LE
export const FRAME_CONTENT_TYPE = 'application/vnd.concord.frame';

// Float32Array views below assume the host order equals the wire order.
assertLittleEndianHost();

const utf8Encoder = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF in the text, so such a header fails JSON.parse as it
// always did instead of being silently stripped; fatal refuses invalid UTF-8 instead of
// replacing it with U+FFFD, which would let two different headers read the same.
const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true, fatal: true });

export interface FrameHeader {
  tensors?: TensorSpec[];
  [key: string]: unknown;
}

export interface Frame<H extends FrameHeader = FrameHeader> {
  header: H;
  parameters?: Parameters;
}

const pad4 = (n: number): number => (4 - (n % 4)) % 4;

export function encodeFrame(header: Record<string, unknown>, parameters?: Parameters): Uint8Array {
  const prefix = encodeFramePrefix(header, parameters?.specs);
  if (!parameters) return prefix;
  const out = new Uint8Array(prefix.byteLength + parameters.data.byteLength);
  out.set(prefix, 0);
  out.set(payloadBytes(parameters), prefix.byteLength);
  return out;
}

/**
 * A frame's bytes before its payload: preamble, header (with the manifest of `specs`, if
 * any) and padding. encodeFrame(h, p) is encodeFramePrefix(h, p.specs) followed by
 * payloadBytes(p), so a sender of one model to many members encodes the payload once and
 * sends it after each member's own prefix.
 */
export function encodeFramePrefix(header: Record<string, unknown>, specs?: readonly TensorSpec[]): Uint8Array {
  const full = { ...header };
  delete (full as FrameHeader).tensors;
  if (specs) (full as FrameHeader).tensors = specs as TensorSpec[];
  const json = utf8Encoder.encode(JSON.stringify(full));
  const payloadStart = 8 + json.length + pad4(8 + json.length);
  // A fresh Uint8Array is zero-filled, so the padding needs no explicit fill.
  const out = new Uint8Array(payloadStart);
  const view = new DataView(out.buffer);
  view.setUint32(0, FRAME_MAGIC, true);
  view.setUint32(4, json.length, true);
  out.set(json, 8);
  return out;
}

/** The payload of a frame carrying `parameters`: a view of their bytes (little-endian float32), no copy. */
export function payloadBytes(parameters: Parameters): Uint8Array {
  return new Uint8Array(parameters.data.buffer, parameters.data.byteOffset, parameters.data.byteLength);
}

function invalid(message: string, field: string, expected?: unknown, received?: unknown): ConcordError {
  return new ConcordError(ErrorCode.INVALID_MESSAGE, message, { details: { field, expected, received } });
}

/**
 * Decodes a frame. The header is returned unvalidated (callers run it through a zod
 * schema); the payload length is checked against the manifest here.
 */
export function decodeFrame(bytes: Uint8Array): Frame {
  if (bytes.length < 8) throw invalid(`frame is ${bytes.length} bytes, shorter than its 8-byte preamble`, 'frame', '>= 8 bytes', bytes.length);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, true);
  if (magic !== FRAME_MAGIC) throw invalid('frame does not start with the magic bytes "CCND"', 'frame.magic', 'CCND', String.fromCharCode(...bytes.subarray(0, 4)));
  const headerLength = view.getUint32(4, true);
  if (8 + headerLength > bytes.length) throw invalid(`frame header claims ${headerLength} bytes but only ${bytes.length - 8} follow`, 'frame.headerLength', `<= ${bytes.length - 8}`, headerLength);
  let text: string;
  try {
    text = utf8Decoder.decode(bytes.subarray(8, 8 + headerLength));
  } catch (cause) {
    throw new ConcordError(ErrorCode.INVALID_MESSAGE, 'frame header is not valid UTF-8', { details: { field: 'frame.header', expected: 'UTF-8 JSON' }, cause });
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (cause) {
    throw new ConcordError(ErrorCode.INVALID_MESSAGE, 'frame header is not valid JSON', { details: { field: 'frame.header' }, cause });
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw invalid('frame header must be a JSON object', 'frame.header', 'object', typeof header);
  // The manifest belongs to the frame; the message a schema validates is the rest of the header.
  const { tensors, ...h } = header as FrameHeader;
  const payloadStart = 8 + headerLength + pad4(8 + headerLength);
  const payloadBytes = bytes.length - payloadStart;
  if (tensors === undefined) {
    if (payloadBytes > 0) throw invalid(`frame carries ${payloadBytes} payload bytes but no tensor manifest`, 'tensors', 'a manifest', 'none');
    return { header: h };
  }
  const specs = validateManifest(tensors);
  const n = totalSize(specs);
  if (payloadBytes !== n * 4) {
    throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `manifest describes ${n} float32 values (${n * 4} bytes) but the payload has ${Math.max(payloadBytes, 0)} bytes`, {
      details: { field: 'payload', expected: n * 4, received: Math.max(payloadBytes, 0) },
    });
  }
  const offset = bytes.byteOffset + payloadStart;
  // Views need 4-byte alignment; pooled Buffers may not give it, so copy only then. The copy
  // goes through a fresh array: Buffer#slice is a view of its (pool) buffer, not a copy.
  const data = offset % 4 === 0 ? new Float32Array(bytes.buffer, offset, n) : alignedCopy(bytes.subarray(payloadStart), n);
  return { header: h, parameters: { specs, data } };
}

function alignedCopy(payload: Uint8Array, n: number): Float32Array {
  const data = new Float32Array(n);
  new Uint8Array(data.buffer).set(payload);
  return data;
}

const MAX_RANK = 8;
const MAX_TENSORS = 100_000;

function validateManifest(raw: unknown): TensorSpec[] {
  if (!Array.isArray(raw)) throw invalid('tensors must be an array of {name, shape}', 'tensors', 'array', typeof raw);
  if (raw.length > MAX_TENSORS) throw invalid(`at most ${MAX_TENSORS} tensors per frame`, 'tensors', `<= ${MAX_TENSORS}`, raw.length);
  const seen = new Set<string>();
  return raw.map((t: unknown, i) => {
    const field = `tensors[${i}]`;
    if (typeof t !== 'object' || t === null) throw invalid(`${field} must be an object`, field, 'object', typeof t);
    const { name, shape, dtype } = t as { name?: unknown; shape?: unknown; dtype?: unknown };
    if (typeof name !== 'string' || name.length === 0 || name.length > 256) throw invalid(`${field}.name must be a non-empty string of at most 256 characters`, `${field}.name`, 'string', name);
    if (seen.has(name)) throw invalid(`tensor name ${name} appears twice`, `${field}.name`, 'unique name', name);
    seen.add(name);
    if (!Array.isArray(shape) || shape.length > MAX_RANK || !shape.every((d) => Number.isInteger(d) && d >= 0 && d <= 2 ** 31)) {
      throw invalid(`${field}.shape must be an array of at most ${MAX_RANK} non-negative integers`, `${field}.shape`, 'int[]', shape);
    }
    if (dtype !== undefined && dtype !== 'float32' && dtype !== 'uint32') throw invalid(`${field}.dtype must be float32 or uint32`, `${field}.dtype`, 'float32 | uint32', dtype);
    return dtype === 'uint32' ? { name, shape: shape as number[], dtype } : { name, shape: shape as number[] };
  });
}
