// The hot loop of aggregation, Σ_k w_k·x_k over K float32 vectors, as a WebAssembly SIMD
// kernel. Plain JavaScript arithmetic is scalar (about 1 value per ns here), which is 3–6×
// slower than the memory copy the aggregation has to do anyway; 4-lane SIMD closes the gap.
//
// The module is assembled here from a few opcodes, so there is no build step and no binary
// blob to trust. Inputs live in ordinary Float32Arrays, so the caller copies one block of
// up to GROUP inputs at a time into the kernel's memory (the copy is a memcpy into L2, the
// same read a plain copy makes), then one call sums that group:
//
//   stage:  GROUP rows of BLOCK float32 (the group's slices of one block)
//   acc:    BLOCK float64 running sum across groups (only when K > GROUP)
//   out:    BLOCK float32 result of the block
//
// Within a group the products are summed in float32 (at most GROUP terms); across groups
// the sum is carried in float64, so error does not grow with K beyond a few float32 ulps.

const BLOCK = 8192; // floats per block: GROUP rows of it plus acc and out stay in L2
const GROUP = 16; // inputs summed per pass; measured best with 8–16 (bench/aggregation.ts)
const UNROLL = 4; // 4-lane vectors per loop iteration

/** Which pass over the block a group is: it decides where the group's sum goes. */
type Mode = 'only' | 'first' | 'middle' | 'last';
const MODES: Mode[] = ['only', 'first', 'middle', 'last'];

import { F32, I32, V128, baseOps, name, section, simd, uleb, vector } from './wasm-writer.js';

const op = {
  ...baseOps,
  f32x4Splat: simd(0x13),
};

const HIGH_HALF = [8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7];
const LOW_HALVES = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];

const ROW_BYTES = BLOCK * 4;
const STAGE_AT = 0;
const ACC_AT = STAGE_AT + GROUP * ROW_BYTES;
const OUT_AT = ACC_AT + BLOCK * 8;
const MEMORY_PAGES = Math.ceil((OUT_AT + ROW_BYTES) / 65536);

/**
 * Body of `${mode}${g}(vectors: i32, w_0..w_{g-1}: f32)`: for each 4-lane vector i of the
 * block, s = Σ_j w_j·stage[j][i] (float32), then by mode
 *   only:   out[i] = s              first: acc[i] = f64(s)
 *   middle: acc[i] += f64(s)        last:  out[i] = f32(acc[i] + f64(s))
 */
function groupFunction(mode: Mode, g: number): number[] {
  const END = g + 1;
  const I = g + 2; // byte offset into a stage row (and into out)
  const A = g + 3; // byte address in acc (twice I: float64)
  const S = g + 4;
  const W = g + 5; // g splatted weights
  const body: number[] = [...op.get(0), ...op.i32(4), ...op.i32Shl, ...op.set(END), ...op.i32(ACC_AT), ...op.set(A)];
  for (let j = 0; j < g; j++) body.push(...op.get(1 + j), ...op.f32x4Splat, ...op.set(W + j));
  body.push(0x02, 0x40, 0x03, 0x40); // block, loop
  body.push(...op.get(I), ...op.get(END), ...op.i32GeU, 0x0d, 1); // br_if out of the block
  for (let u = 0; u < UNROLL; u++) {
    for (let j = 0; j < g; j++) {
      body.push(...op.get(I), ...op.load(STAGE_AT + j * ROW_BYTES + u * 16), ...op.get(W + j), ...op.f32x4Mul);
      if (j > 0) body.push(...op.f32x4Add);
    }
    body.push(...op.set(S));
    const low = [...op.get(S), ...op.f64x2PromoteLowF32x4];
    const high = [...op.get(S), ...op.get(S), ...op.shuffle(HIGH_HALF), ...op.f64x2PromoteLowF32x4];
    const accLo = u * 32;
    const accHi = u * 32 + 16;
    if (mode === 'only') {
      body.push(...op.get(I), ...op.get(S), ...op.store(OUT_AT + u * 16));
    } else if (mode === 'first') {
      body.push(...op.get(A), ...low, ...op.store(accLo), ...op.get(A), ...high, ...op.store(accHi));
    } else if (mode === 'middle') {
      body.push(...op.get(A), ...op.get(A), ...op.load(accLo), ...low, ...op.f64x2Add, ...op.store(accLo));
      body.push(...op.get(A), ...op.get(A), ...op.load(accHi), ...high, ...op.f64x2Add, ...op.store(accHi));
    } else {
      body.push(...op.get(I));
      body.push(...op.get(A), ...op.load(accLo), ...low, ...op.f64x2Add, ...op.f32x4DemoteF64x2Zero);
      body.push(...op.get(A), ...op.load(accHi), ...high, ...op.f64x2Add, ...op.f32x4DemoteF64x2Zero);
      body.push(...op.shuffle(LOW_HALVES), ...op.store(OUT_AT + u * 16));
    }
  }
  body.push(...op.get(A), ...op.i32(32 * UNROLL), ...op.i32Add, ...op.set(A));
  body.push(...op.get(I), ...op.i32(16 * UNROLL), ...op.i32Add, ...op.set(I));
  body.push(0x0c, 0, 0x0b, 0x0b, 0x0b); // br loop, end loop, end block, end function
  const locals = vector([[3, I32], [...uleb(1 + g), V128]]);
  const code = [...locals, ...body];
  return [...uleb(code.length), ...code];
}

function assembleModule(): Uint8Array<ArrayBuffer> {
  const types: number[][] = [];
  const functions: number[][] = [];
  const exports: number[][] = [];
  for (const mode of MODES) {
    for (let g = 1; g <= GROUP; g++) {
      const index = functions.length;
      types.push([0x60, ...vector([[I32], ...Array.from({ length: g }, () => [F32])]), 0]);
      functions.push(groupFunction(mode, g));
      exports.push([...name(`${mode}${g}`), 0x00, ...uleb(index)]);
    }
  }
  exports.push([...name('memory'), 0x02, 0]);
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...section(1, vector(types)),
    ...section(3, vector(types.map((_, i) => uleb(i)))),
    ...section(5, vector([[0x00, ...uleb(MEMORY_PAGES)]])),
    ...section(7, vector(exports)),
    ...section(10, vector(functions)),
  ]);
}

// --- the kernel --------------------------------------------------------------------------

type GroupFn = (...args: number[]) => void;

interface Kernel {
  stage: Float32Array;
  out: Float32Array;
  fns: Record<Mode, GroupFn[]>;
}

let kernel: Kernel | null | undefined;

function loadKernel(): Kernel | null {
  if (kernel !== undefined) return kernel;
  try {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(assembleModule()));
    const exported = instance.exports as Record<string, unknown>;
    const memory = exported.memory as WebAssembly.Memory;
    const fns = {} as Record<Mode, GroupFn[]>;
    for (const mode of MODES) fns[mode] = Array.from({ length: GROUP + 1 }, (_, g) => exported[`${mode}${g}`] as GroupFn);
    kernel = {
      stage: new Float32Array(memory.buffer, STAGE_AT, GROUP * BLOCK),
      out: new Float32Array(memory.buffer, OUT_AT, BLOCK),
      fns,
    };
  } catch {
    // No WebAssembly SIMD (old engine, or a page whose CSP forbids compiling): scalar path.
    kernel = null;
  }
  return kernel;
}

/** True when the SIMD kernel compiled on this engine. */
export function simdAvailable(): boolean {
  return loadKernel() !== null;
}

/**
 * out[i] = Σ_k weights[k]·inputs[k][i] with the SIMD kernel; null when SIMD is unavailable.
 * Unchecked: the caller guarantees K ≥ 1 and equal lengths. `out` may alias an input.
 */
export function weightedSumSimd(inputs: readonly Float32Array[], weights: readonly number[], out: Float32Array): Float32Array | null {
  const k = loadKernel();
  if (k === null) return null;
  const K = inputs.length;
  const P = out.length;
  // Balanced groups: K = 20 runs as 10 + 10, not 16 + 4.
  const groups = Math.ceil(K / GROUP);
  const size = Math.ceil(K / groups);
  const calls: { fn: GroupFn; args: number[]; first: number; count: number }[] = [];
  for (let first = 0, gi = 0; first < K; first += size, gi++) {
    const count = Math.min(size, K - first);
    const mode: Mode = groups === 1 ? 'only' : gi === 0 ? 'first' : gi === groups - 1 ? 'last' : 'middle';
    calls.push({ fn: k.fns[mode][count]!, args: [0, ...weights.slice(first, first + count)], first, count });
  }
  for (let start = 0; start < P; start += BLOCK) {
    const n = Math.min(BLOCK, P - start);
    const end = start + n;
    for (const call of calls) {
      for (let j = 0; j < call.count; j++) k.stage.set(inputs[call.first + j]!.subarray(start, end), j * BLOCK);
      // Lanes past n read stale stage data; their results are never copied out.
      call.args[0] = (n + 3) >> 2;
      call.fn(...call.args);
    }
    out.set(k.out.subarray(0, n), start);
  }
  return out;
}

/** out[i] = Σ_k weights[k]·inputs[k][i] in plain JavaScript, accumulated in float64 blocks. */
export function weightedSumScalar(inputs: readonly Float32Array[], weights: readonly number[], out: Float32Array): Float32Array {
  const K = inputs.length;
  const P = out.length;
  const acc = new Float64Array(Math.min(BLOCK, P));
  for (let start = 0; start < P; start += BLOCK) {
    const n = Math.min(BLOCK, P - start);
    acc.fill(0, 0, n);
    let k = 0;
    // Four inputs per pass: fewer loads and stores of the accumulator.
    for (; k + 4 <= K; k += 4) {
      const a = inputs[k]!, b = inputs[k + 1]!, c = inputs[k + 2]!, d = inputs[k + 3]!;
      const wa = weights[k]!, wb = weights[k + 1]!, wc = weights[k + 2]!, wd = weights[k + 3]!;
      for (let j = 0, i = start; j < n; j++, i++) acc[j]! += wa * a[i]! + wb * b[i]! + wc * c[i]! + wd * d[i]!;
    }
    for (; k < K; k++) {
      const a = inputs[k]!;
      const wa = weights[k]!;
      for (let j = 0, i = start; j < n; j++, i++) acc[j]! += wa * a[i]!;
    }
    // Copy out only after every input was read: `out` may alias an input.
    for (let j = 0, i = start; j < n; j++, i++) out[i] = acc[j]!;
  }
  return out;
}
