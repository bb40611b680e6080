// Parameters at rest: the tensor manifest as JSON plus one BLOB of raw little-endian
// float32 bytes, the same layout as on the wire (protocol/frame.ts). Shared by every
// storage backend so checkpoints written by one can be read by another.

import { endianness } from 'node:os';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { makeParameters, totalSize, type Parameters, type TensorSpec } from '../protocol/tensors.js';

const LITTLE_ENDIAN_HOST = endianness() === 'LE';

export interface EncodedParameters {
  manifest: string;
  bytes: Buffer;
}

/** Checks that the data matches the manifest, so a checkpoint that cannot be read back is never written. */
export function encodeParameters(p: Parameters, field: string): EncodedParameters {
  const expected = totalSize(p.specs);
  if (p.data.length !== expected) {
    throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `${field} holds ${p.data.length} values but its manifest describes ${expected}`, {
      details: { field: `${field}.data`, expected, received: p.data.length },
    });
  }
  const manifest = JSON.stringify(p.specs.map((s) => ({ name: s.name, shape: s.shape })));
  const view = Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength);
  // A big-endian host swaps a copy: the caller's parameters must not change.
  return { manifest, bytes: LITTLE_ENDIAN_HOST ? view : Buffer.from(view).swap32() };
}

/**
 * The result owns a fresh, 4-byte-aligned buffer: callers may keep or mutate it, and a
 * Float32Array cannot view a Buffer that sits at an odd offset of a shared pool.
 */
export function decodeParameters(manifest: string, bytes: Uint8Array, what: string): Parameters {
  const specs = JSON.parse(manifest) as TensorSpec[];
  const expected = totalSize(specs) * 4;
  if (bytes.byteLength !== expected) {
    throw new ConcordError(ErrorCode.STORAGE, `${what} is corrupt: its manifest needs ${expected} bytes, the stored blob holds ${bytes.byteLength}`, {
      details: { field: what, expected, received: bytes.byteLength },
    });
  }
  const ownsBuffer = bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.byteLength && bytes.buffer instanceof ArrayBuffer;
  let data: Float32Array;
  if (ownsBuffer && LITTLE_ENDIAN_HOST) {
    data = new Float32Array(bytes.buffer as ArrayBuffer, 0, expected / 4);
  } else {
    data = new Float32Array(expected / 4);
    const target = new Uint8Array(data.buffer);
    target.set(bytes);
    if (!LITTLE_ENDIAN_HOST) Buffer.from(data.buffer).swap32();
  }
  return makeParameters(specs, data);
}
