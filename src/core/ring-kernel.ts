// Ring arithmetic for secure aggregation, as a WebAssembly SIMD kernel: a vector of uint32
// ring elements of Z_{2^bits} gets a list of terms added to or subtracted from it,
//   target[i] ← (target[i] + Σ_j sign_j · term_j[i]) mod 2^bits,
// where a term is another vector or a stream read piece by piece (a mask's key stream, which
// is never materialised whole). Secure aggregation's hot loops are this: a member adds its
// self-mask and its pairwise masks to its quantized update, the server sums the masked
// vectors and takes the self-masks and a dropped member's pairwise masks back off. Plain
// JavaScript does 1 element per ns or less (a double sum and a modular store); i32x4 lanes do
// 4 per instruction, so the cost falls to the copies, which stay in L2.
//
// Like weighted-sum-kernel.ts the module is assembled here from a few opcodes (no build step,
// no binary blob). The target is processed one block at a time: its block is copied into the
// kernel's memory once, every term's piece of that block is copied in next to it and added
// or subtracted there, and the block is copied back — so each term is read once, and a
// stream is read in pieces of one block.
//
//   memory:  [pad] acc: BLOCK uint32 (the target's block) [pad] stage: BLOCK uint32 (one term's piece)
//
// Arithmetic mod 2^32 is exact in both paths, and mod 2^bits (bits < 32) is the same sum
// with the high bits cleared once at the end, since 2^bits divides 2^32: results are
// bit-identical to ringAccumulateScalar, which runs where WebAssembly SIMD does not.

import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { F64, I32, V128, baseOps, name, section, simd, uleb, vector } from './wasm-writer.js';

/** Words per block: acc and stage (256 KiB together) stay in L2, and a stream is read 128 KiB at a time. */
export const RING_BLOCK_WORDS = 32_768;
const BLOCK_BYTES = RING_BLOCK_WORDS * 4;
// Offsets off the 4 KiB grid, apart from each other by half a page: copies between a
// page-aligned JavaScript buffer and memory at the same offset within a page (and loads of
// stage right after stores to acc) stall on 4K aliasing, measured 10× slower for the copy out.
const FLAG_AT = 0; // quantize's non-finite flag: 4 float32 lanes
const ACC_AT = 2048;
const STAGE_AT = ACC_AT + BLOCK_BYTES + 2048;
const MEMORY_PAGES = Math.ceil((STAGE_AT + BLOCK_BYTES) / 65_536);
const UNROLL = 4; // 4-lane vectors per loop iteration: 16 words, so blocks are padded to 16

const op = {
  ...baseOps,
  i32x4Splat: simd(0x11),
  v128And: simd(0x4e),
  i32x4Add: simd(0xae),
  i32x4Sub: simd(0xb1),
  f32x4Sub: simd(0xe5),
  f64x2Splat: simd(0x14),
  f64x2Eq: simd(0x47),
  f64x2Nearest: simd(0x94),
  f64x2Neg: simd(0xed),
  f64x2Sub: simd(0xf1),
  f64x2Mul: simd(0xf2),
  f64x2Pmin: simd(0xf6),
  f64x2Pmax: simd(0xf7),
  i32x4TruncSatF64x2SZero: simd(0xfc),
  v128Const: (bytes: Uint8Array) => [...simd(0x0c), ...bytes],
};

const f64x2Bytes = (x: number): Uint8Array => new Uint8Array(Float64Array.of(x, x).buffer);
const HIGH_HALF = [8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7];
const LOW_HALVES = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];

/** `${kind}(bytes[, mask])`: acc ← acc ∘ stage (add, sub) or acc & mask (and), over `bytes` bytes (a multiple of 64). */
function ringFunction(kind: 'add' | 'sub' | 'and'): number[] {
  const BYTES = 0;
  const I = kind === 'and' ? 2 : 1;
  const M = 3; // the splatted mask (and only)
  const body: number[] = [];
  if (kind === 'and') body.push(...op.get(1), ...op.i32x4Splat, ...op.set(M));
  body.push(0x02, 0x40, 0x03, 0x40); // block, loop
  body.push(...op.get(I), ...op.get(BYTES), ...op.i32GeU, 0x0d, 1); // br_if out of the block
  for (let u = 0; u < UNROLL; u++) {
    body.push(...op.get(I), ...op.get(I), ...op.load(ACC_AT + u * 16));
    if (kind === 'and') body.push(...op.get(M), ...op.v128And);
    else body.push(...op.get(I), ...op.load(STAGE_AT + u * 16), ...(kind === 'add' ? op.i32x4Add : op.i32x4Sub));
    body.push(...op.store(ACC_AT + u * 16));
  }
  body.push(...op.get(I), ...op.i32(16 * UNROLL), ...op.i32Add, ...op.set(I));
  body.push(0x0c, 0, 0x0b, 0x0b, 0x0b); // br loop, end loop, end block, end function
  const locals = kind === 'and' ? vector([[1, I32], [1, V128]]) : vector([[1, I32]]);
  const code = [...locals, ...body];
  return [...uleb(code.length), ...code];
}

/**
 * `quantize(bytes, c, scale)`: for the float32 values in stage, acc ← the int32 of
 * roundHalfUp(clip(x, ±c)·scale), in float64 as JavaScript computes
 * Math.round((x > c ? c : x < −c ? −c : x) * scale); and at FLAG_AT the lane sums of x − x,
 * which are 0 unless some x is not finite. Math.round rounds ties up where f64x2.nearest
 * rounds them to even: r = nearest(y) is corrected by +1 where y − r = ½ (exact: r is the
 * integer next to y). The clip is pmin(pmax(x, −c), c), the same as the comparisons for any
 * number (NaN is reported by the flag, not clipped).
 */
function quantizeFunction(): number[] {
  const [BYTES, C, SCALE] = [0, 1, 2];
  const I = 3;
  const [FLAG, NEGC, CV, S, HALF, ONE, V, X, R, LO] = [4, 5, 6, 7, 8, 9, 10, 11, 12, 13];
  /** The int32 of one f64x2 half (on the stack), in the low two lanes. */
  const half = (h: number[]) => [
    ...h, ...op.get(NEGC), ...op.f64x2Pmax, ...op.get(CV), ...op.f64x2Pmin, ...op.get(S), ...op.f64x2Mul, ...op.set(X),
    ...op.get(X), ...op.f64x2Nearest, ...op.set(R),
    ...op.get(R), ...op.get(X), ...op.get(R), ...op.f64x2Sub, ...op.get(HALF), ...op.f64x2Eq, ...op.get(ONE), ...op.v128And, ...op.f64x2Add,
    ...op.i32x4TruncSatF64x2SZero,
  ];
  const body: number[] = [
    ...op.get(C), ...op.f64x2Splat, ...op.set(CV),
    ...op.get(C), ...op.f64x2Splat, ...op.f64x2Neg, ...op.set(NEGC),
    ...op.get(SCALE), ...op.f64x2Splat, ...op.set(S),
    ...op.v128Const(f64x2Bytes(0.5)), ...op.set(HALF),
    ...op.v128Const(f64x2Bytes(1)), ...op.set(ONE),
    0x02, 0x40, 0x03, 0x40, // block, loop
    ...op.get(I), ...op.get(BYTES), ...op.i32GeU, 0x0d, 1,
  ];
  for (let u = 0; u < UNROLL; u++) {
    body.push(...op.get(I), ...op.load(STAGE_AT + u * 16), ...op.set(V));
    body.push(...op.get(FLAG), ...op.get(V), ...op.get(V), ...op.f32x4Sub, ...op.f32x4Add, ...op.set(FLAG));
    body.push(...half([...op.get(V), ...op.f64x2PromoteLowF32x4]), ...op.set(LO));
    body.push(...op.get(I), ...op.get(LO));
    body.push(...half([...op.get(V), ...op.get(V), ...op.shuffle(HIGH_HALF), ...op.f64x2PromoteLowF32x4]));
    body.push(...op.shuffle(LOW_HALVES), ...op.store(ACC_AT + u * 16));
  }
  body.push(...op.get(I), ...op.i32(16 * UNROLL), ...op.i32Add, ...op.set(I));
  body.push(0x0c, 0, 0x0b, 0x0b); // br loop, end loop, end block
  body.push(...op.i32(0), ...op.get(FLAG), ...op.store(FLAG_AT), 0x0b);
  const locals = vector([[1, I32], [...uleb(10), V128]]);
  const code = [...locals, ...body];
  return [...uleb(code.length), ...code];
}

const KINDS = ['add', 'sub', 'and'] as const;

function assembleModule(): Uint8Array<ArrayBuffer> {
  const types = [
    [0x60, ...vector([[I32]]), 0],
    [0x60, ...vector([[I32], [I32]]), 0],
    [0x60, ...vector([[I32], [F64], [F64]]), 0],
  ];
  const functions = [...KINDS.map(ringFunction), quantizeFunction()];
  const typeOf = [...KINDS.map((kind) => (kind === 'and' ? 1 : 0)), 2];
  const names = [...KINDS, 'quantize'];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...section(1, vector(types)),
    ...section(3, vector(typeOf.map((t) => uleb(t)))),
    ...section(5, vector([[0x00, ...uleb(MEMORY_PAGES)]])),
    ...section(7, vector([...names.map((n, i) => [...name(n), 0x00, ...uleb(i)]), [...name('memory'), 0x02, 0]])),
    ...section(10, vector(functions)),
  ]);
}

// --- the kernel --------------------------------------------------------------------------

/** One term: a vector at least as long as the target, or a stream giving the next `words` words on each call. */
export type RingSource = Uint32Array | ((words: number) => Uint8Array | Uint32Array);

export interface RingTerm {
  source: RingSource;
  sign: 1 | -1;
}

interface Kernel {
  acc: Uint32Array;
  stage: Uint32Array;
  stageBytes: Uint8Array;
  add: (bytes: number) => void;
  sub: (bytes: number) => void;
  and: (bytes: number, mask: number) => void;
  quantize: (bytes: number, clip: number, scale: number) => void;
  stageFloats: Float32Array;
  flag: Float32Array;
}

let kernel: Kernel | null | undefined;

function loadKernel(): Kernel | null {
  if (kernel !== undefined) return kernel;
  try {
    const exported = new WebAssembly.Instance(new WebAssembly.Module(assembleModule())).exports as Record<string, unknown>;
    const memory = exported.memory as WebAssembly.Memory;
    kernel = {
      acc: new Uint32Array(memory.buffer, ACC_AT, RING_BLOCK_WORDS),
      stage: new Uint32Array(memory.buffer, STAGE_AT, RING_BLOCK_WORDS),
      stageBytes: new Uint8Array(memory.buffer, STAGE_AT, BLOCK_BYTES),
      add: exported.add as Kernel['add'],
      sub: exported.sub as Kernel['sub'],
      and: exported.and as Kernel['and'],
      quantize: exported.quantize as Kernel['quantize'],
      stageFloats: new Float32Array(memory.buffer, STAGE_AT, RING_BLOCK_WORDS),
      flag: new Float32Array(memory.buffer, FLAG_AT, 4),
    };
  } catch {
    // No WebAssembly SIMD (old engine, or a page whose CSP forbids compiling): scalar path.
    kernel = null;
  }
  return kernel;
}

/** True when the SIMD kernel compiled on this engine. */
export function ringSimdAvailable(): boolean {
  return loadKernel() !== null;
}

function checkBits(bits: number): void {
  if (!Number.isInteger(bits) || bits < 1 || bits > 32) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `ring bits is ${bits}; it must be an integer in [1, 32]`, { details: { field: 'bits', expected: '[1, 32]', received: bits } });
  }
}

function checkTerms(target: Uint32Array, terms: readonly RingTerm[]): void {
  for (const [j, { source, sign }] of terms.entries()) {
    if (sign !== 1 && sign !== -1) {
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `terms[${j}].sign is ${String(sign)}; it must be 1 or −1`, { details: { field: `terms[${j}].sign`, expected: '1 | -1', received: sign } });
    }
    if (typeof source !== 'function' && source.length < target.length) {
      throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `terms[${j}] holds ${source.length} elements; the target holds ${target.length}`, {
        details: { field: `terms[${j}].source`, expected: `>= ${target.length}`, received: source.length },
      });
    }
  }
}

/** A stream's next piece of `words` words, refused when it is not that long: a short read would leave a mask half applied. */
function readPiece(source: (words: number) => Uint8Array | Uint32Array, words: number, j: number): Uint8Array | Uint32Array {
  const piece = source(words);
  const got = piece instanceof Uint32Array ? piece.length : piece.length / 4;
  if (got !== words) {
    throw new ConcordError(ErrorCode.INTERNAL, `terms[${j}] gave ${got} words where ${words} were read`, { details: { field: `terms[${j}].source`, expected: words, received: got } });
  }
  return piece;
}

/** The words of a piece as a Uint32Array; a copy only when the bytes sit off a 4-byte boundary. */
function wordsOf(piece: Uint8Array | Uint32Array): Uint32Array {
  if (piece instanceof Uint32Array) return piece;
  const bytes = piece.byteOffset % 4 === 0 ? piece : new Uint8Array(piece);
  return new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
}

/**
 * target[i] ← (target[i] + Σ_j sign_j·terms[j][i]) mod 2^bits with the SIMD kernel; false
 * (and target untouched) when SIMD is unavailable. A term may be the target itself.
 */
export function ringAccumulateSimd(target: Uint32Array, terms: readonly RingTerm[], bits = 32): boolean {
  checkBits(bits);
  checkTerms(target, terms);
  const k = loadKernel();
  if (k === null) return false;
  const mask = bits === 32 ? -1 : 2 ** bits - 1;
  for (let start = 0; start < target.length; start += RING_BLOCK_WORDS) {
    const n = Math.min(RING_BLOCK_WORDS, target.length - start);
    // Lanes past n hold stale words; they are computed on and never copied out.
    const bytes = Math.ceil(n / (4 * UNROLL)) * 16 * UNROLL;
    k.acc.set(target.subarray(start, start + n));
    for (const [j, { source, sign }] of terms.entries()) {
      if (typeof source === 'function') {
        const piece = readPiece(source, n, j);
        if (piece instanceof Uint32Array) k.stage.set(piece);
        else k.stageBytes.set(piece);
      } else k.stage.set(source.subarray(start, start + n));
      if (sign === 1) k.add(bytes);
      else k.sub(bytes);
    }
    if (mask !== -1) k.and(bytes, mask);
    target.set(k.acc.subarray(0, n), start);
  }
  return true;
}

/** The same in plain JavaScript, block by block like the kernel, so streams are read in the same pieces. */
export function ringAccumulateScalar(target: Uint32Array, terms: readonly RingTerm[], bits = 32): void {
  checkBits(bits);
  checkTerms(target, terms);
  const mask = bits === 32 ? -1 : 2 ** bits - 1;
  for (let start = 0; start < target.length; start += RING_BLOCK_WORDS) {
    const n = Math.min(RING_BLOCK_WORDS, target.length - start);
    const end = start + n;
    // Read every term's piece before writing: a term may share the target's memory.
    const pieces = terms.map(({ source }, j) =>
      typeof source === 'function' ? wordsOf(readPiece(source, n, j)) : source.buffer === target.buffer ? source.slice(start, end) : source.subarray(start, end),
    );
    for (const [j, { sign }] of terms.entries()) {
      const w = pieces[j]!;
      // Uint32Array stores reduce mod 2^32; the double sum/difference is exact below 2^53.
      if (sign === 1) for (let i = 0; i < n; i++) target[start + i] = target[start + i]! + w[i]!;
      else for (let i = 0; i < n; i++) target[start + i] = target[start + i]! - w[i]!;
    }
    if (mask !== -1) for (let i = start; i < end; i++) target[i] = target[i]! & mask;
  }
}

/** target[i] ← (target[i] + Σ_j sign_j·terms[j][i]) mod 2^bits: the SIMD kernel where it runs, plain JavaScript elsewhere. */
export function ringAccumulate(target: Uint32Array, terms: readonly RingTerm[], bits = 32): Uint32Array {
  if (!ringAccumulateSimd(target, terms, bits)) ringAccumulateScalar(target, terms, bits);
  return target;
}

/**
 * out[i] ← Math.round(clip(data[i], ±clip)·scale) mod 2^32, the fixed-point encoding of
 * secure aggregation, with the SIMD kernel: 'done', or 'non-finite' when some value is NaN or
 * infinite (out is then partly written; the caller finds the value and refuses it), or null when
 * SIMD is unavailable. Unchecked: out.length ≥ data.length, clip > 0, |clip·scale| < 2^31.
 */
export function quantizeToRingSimd(data: Float32Array, clip: number, scale: number, out: Uint32Array): 'done' | 'non-finite' | null {
  const k = loadKernel();
  if (k === null) return null;
  for (let start = 0; start < data.length; start += RING_BLOCK_WORDS) {
    const n = Math.min(RING_BLOCK_WORDS, data.length - start);
    const bytes = Math.ceil(n / (4 * UNROLL)) * 16 * UNROLL;
    k.stageFloats.set(data.subarray(start, start + n));
    // The padding lanes are read too: zeros keep a stale NaN out of the flag.
    if (n * 4 < bytes) k.stageFloats.fill(0, n, bytes / 4);
    k.quantize(bytes, clip, scale);
    if (!(k.flag[0] === 0 && k.flag[1] === 0 && k.flag[2] === 0 && k.flag[3] === 0)) return 'non-finite';
    out.set(k.acc.subarray(0, n), start);
  }
  return 'done';
}
