// Model parameters as named float32 tensors: a manifest (name, shape) plus one flat
// little-endian buffer read by offset, like TensorFlow.js weight manifests. The same
// layout is used on the wire, in checkpoints and in exported models.

import { ConcordError, ErrorCode } from './errors.js';

export interface TensorSpec {
  name: string;
  shape: number[];
  /**
   * Model parameters are float32 (the default). Secure aggregation sends masked ring
   * elements as uint32; they ride in the same 4-byte slots and are read through a
   * Uint32Array view of the same bytes.
   */
  dtype?: 'float32' | 'uint32';
}

/** Parameters are stored flat so that aggregation is one pass over one Float32Array. */
export interface Parameters {
  specs: TensorSpec[];
  data: Float32Array;
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function totalSize(specs: readonly TensorSpec[]): number {
  let n = 0;
  for (const s of specs) n += sizeOf(s.shape);
  return n;
}

export function makeParameters(specs: TensorSpec[], data?: Float32Array): Parameters {
  const n = totalSize(specs);
  if (data && data.length !== n) {
    throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `parameter data holds ${data.length} values but the manifest describes ${n}`, {
      details: { field: 'data', expected: n, received: data.length },
    });
  }
  return { specs: specs.map((s) => ({ name: s.name, shape: [...s.shape] })), data: data ?? new Float32Array(n) };
}

export function fromNamedTensors(tensors: { name: string; shape: number[]; values: ArrayLike<number> }[]): Parameters {
  const specs = tensors.map((t) => ({ name: t.name, shape: [...t.shape] }));
  const data = new Float32Array(totalSize(specs));
  let offset = 0;
  for (const t of tensors) {
    const n = sizeOf(t.shape);
    if (t.values.length !== n) {
      throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `tensor ${t.name} has ${t.values.length} values but shape [${t.shape.join(', ')}] needs ${n}`, {
        details: { field: `tensors.${t.name}`, expected: n, received: t.values.length },
      });
    }
    data.set(t.values, offset);
    offset += n;
  }
  return { specs, data };
}

/** Views of each tensor inside the flat buffer (no copy). */
export function toNamedTensors(p: Parameters): { name: string; shape: number[]; values: Float32Array }[] {
  const out: { name: string; shape: number[]; values: Float32Array }[] = [];
  let offset = 0;
  for (const s of p.specs) {
    const n = sizeOf(s.shape);
    out.push({ name: s.name, shape: s.shape, values: p.data.subarray(offset, offset + n) });
    offset += n;
  }
  return out;
}

export function cloneParameters(p: Parameters): Parameters {
  return { specs: p.specs.map((s) => ({ name: s.name, shape: [...s.shape] })), data: new Float32Array(p.data) };
}

/** Throws a SHAPE_MISMATCH naming the first tensor whose name or shape differs from `expected`. */
export function assertSameSpecs(expected: readonly TensorSpec[], received: readonly TensorSpec[], field = 'tensors'): void {
  if (expected.length !== received.length) {
    throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `expected ${expected.length} tensors (${expected.map((s) => s.name).join(', ')}), received ${received.length}`, {
      details: { field, expected: expected.length, received: received.length },
    });
  }
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const r = received[i]!;
    if (e.name !== r.name) {
      throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `tensor #${i} should be named ${e.name}, received ${r.name}`, {
        details: { field: `${field}[${i}].name`, expected: e.name, received: r.name },
      });
    }
    if ((e.dtype ?? 'float32') !== (r.dtype ?? 'float32')) {
      throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `tensor ${e.name} should be ${e.dtype ?? 'float32'}, received ${r.dtype ?? 'float32'}`, {
        details: { field: `${field}.${e.name}.dtype`, expected: e.dtype ?? 'float32', received: r.dtype ?? 'float32' },
      });
    }
    if (e.shape.length !== r.shape.length || e.shape.some((d, j) => d !== r.shape[j])) {
      throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `tensor ${e.name} should have shape [${e.shape.join(', ')}], received [${r.shape.join(', ')}]`, {
        details: { field: `${field}.${e.name}.shape`, expected: e.shape, received: r.shape },
      });
    }
  }
}

/** Throws NON_FINITE naming the tensor and index of the first NaN or ±Infinity. */
export function assertFinite(p: Parameters, field = 'tensors'): void {
  const d = p.data;
  if (allFinite(d)) return;
  for (let i = 0; i < d.length; i++) {
    const v = d[i]!;
    if (v - v !== 0) {
      let offset = 0;
      for (const s of p.specs) {
        const n = sizeOf(s.shape);
        if (i < offset + n) {
          throw new ConcordError(ErrorCode.NON_FINITE, `tensor ${s.name} holds ${v} at index ${i - offset}; every value must be a finite number`, {
            details: { field: `${field}.${s.name}[${i - offset}]`, expected: 'finite float32', received: String(v) },
          });
        }
        offset += n;
      }
    }
  }
}

/**
 * x · 0 is ±0 for every finite x and NaN for NaN and ±Infinity, and NaN survives any sum,
 * so one branch-free pass (four sums, for the CPU's parallel adders) answers whether every
 * value is finite, in about half the time of a test per value.
 */
function allFinite(d: Float32Array): boolean {
  let a = 0;
  let b = 0;
  let c = 0;
  let e = 0;
  const n = d.length;
  const m = n - (n & 3);
  let i = 0;
  for (; i < m; i += 4) {
    a += d[i]! * 0;
    b += d[i + 1]! * 0;
    c += d[i + 2]! * 0;
    e += d[i + 3]! * 0;
  }
  for (; i < n; i++) a += d[i]! * 0;
  return a + b + c + e === 0;
}
