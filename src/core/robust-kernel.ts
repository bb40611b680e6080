// WebAssembly SIMD kernels for the robust aggregation rules of robust.ts. Plain JavaScript
// finds a per-coordinate median by branching selection, which mispredicts on every other
// comparison; here the K updates' slices of one block of coordinates are staged as K rows,
// and a sorting network (Batcher 1968, "Sorting networks and their applications": the
// odd-even merge sort, pruned to the outputs needed) runs on whole rows: every
// compare-exchange is f32x4.pmin/pmax over 4 coordinates at once, with no branches. The
// trimmed mean's kept rows are then summed in float64, and Krum's pairwise squared
// distances run over the same staged rows. Measured about 10× faster than the scalar code
// (bench/robust.ts).
//
// The module is assembled here from a few opcodes (no build step, no binary blob). When the
// engine lacks SIMD the functions return null and robust.ts uses its scalar code.
//
//   memory for a network:   [comparators: pairs of i32 row addresses][stage: K rows of B float32][one output row]
//   memory for distances:   [K×K float64 sums][stage: K rows of B float32]

import { F64, I32, V128, baseOps, name, section, simd, uleb, vector } from './wasm-writer.js';

const op = {
  ...baseOps,
  i32Load: (offset: number) => [0x28, 2, ...uleb(offset)],
  f64Load: [0x2b, 3, 0],
  f64Store: [0x39, 3, 0],
  f64Add: [0xa0],
  zero: [...simd(0x0c), ...new Array<number>(16).fill(0)],
  f64x2Lane: (lane: number) => [...simd(0x21), lane],
  f32x4Sub: simd(0xe5),
  // pmin(a, b) = b < a ? b : a and pmax(a, b) = a < b ? b : a: one instruction each, unlike
  // min/max. As (pmin(a, b), pmax(b, a)) a compare-exchange keeps equal values (and ±0) in
  // place, so it always permutes: the multiset of every coordinate is preserved exactly.
  f32x4Pmin: simd(0xea),
  f32x4Pmax: simd(0xeb),
  f64x2Splat: simd(0x14),
  f64x2Div: simd(0xf3),
};

const HIGH_HALF = [8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7];
const LOW_HALVES = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];

/** while (get(counter) < get(limit)) { body }: block, loop, exit test, body, back edge. */
const whileBelow = (counter: number, limit: number, body: number[]): number[] => [
  0x02, 0x40, 0x03, 0x40, ...op.get(counter), ...op.get(limit), ...op.i32GeU, 0x0d, 1, ...body, 0x0c, 0, 0x0b, 0x0b,
];
const addTo = (local: number, amount: number[]): number[] => [...op.get(local), ...amount, ...op.i32Add, ...op.set(local)];

const functionBody = (locals: number[][], body: number[]): number[] => {
  const code = [...vector(locals), ...body, 0x0b];
  return [...uleb(code.length), ...code];
};

/**
 * network(pairs, count, bytes): for each of `count` comparators (a, b) stored at `pairs` as
 * two i32 row addresses, rows a and b over `bytes` bytes become (min, max) lane by lane.
 */
function networkFunction(): number[] {
  const [PAIRS, COUNT, BYTES] = [0, 1, 2];
  const [END, A, B, ROW_END, VA, VB] = [3, 4, 5, 6, 7, 8];
  const step = [
    ...op.get(A), ...op.load(0), ...op.set(VA),
    ...op.get(B), ...op.load(0), ...op.set(VB),
    ...op.get(A), ...op.get(VA), ...op.get(VB), ...op.f32x4Pmin, ...op.store(0),
    ...op.get(B), ...op.get(VB), ...op.get(VA), ...op.f32x4Pmax, ...op.store(0),
    ...addTo(A, op.i32(16)),
    ...addTo(B, op.i32(16)),
  ];
  const comparator = [
    ...op.get(PAIRS), ...op.i32Load(0), ...op.set(A),
    ...op.get(PAIRS), ...op.i32Load(4), ...op.set(B),
    ...op.get(A), ...op.get(BYTES), ...op.i32Add, ...op.set(ROW_END),
    ...whileBelow(A, ROW_END, step),
    ...addTo(PAIRS, op.i32(8)),
  ];
  const body = [...op.get(PAIRS), ...op.get(COUNT), ...op.i32(8), ...op.i32Mul, ...op.i32Add, ...op.set(END), ...whileBelow(PAIRS, END, comparator)];
  return functionBody([[4, I32], [2, V128]], body);
}

/**
 * distances(stage, K, rows, rowBytes, bytes, out): out[i·K + j] += Σ (row_i − row_j)² over
 * the first `bytes` bytes (a multiple of 64) of each row, for i < rows and i < j < K; out is
 * float64. rows = K gives all pairs, rows = 1 the distances from row 0 to the others. Differences
 * and squares are float32; four vectors of squares are added in float32, then into a float64
 * sum, which keeps the float64 additions off the critical path.
 */
function distancesFunction(): number[] {
  const [STAGE, K, ROWS, ROW_BYTES, BYTES, OUT] = [0, 1, 2, 3, 4, 5];
  const [I, J, X, Y, END, ACC, S, D] = [6, 7, 8, 9, 10, 11, 12, 13];
  const square = (offset: number) => [
    ...op.get(X), ...op.load(offset), ...op.get(Y), ...op.load(offset), ...op.f32x4Sub, ...op.set(D),
    ...op.get(D), ...op.get(D), ...op.f32x4Mul,
  ];
  const step = [
    ...square(0), ...square(16), ...op.f32x4Add, ...square(32), ...op.f32x4Add, ...square(48), ...op.f32x4Add, ...op.set(S),
    ...op.get(ACC), ...op.get(S), ...op.f64x2PromoteLowF32x4, ...op.f64x2Add,
    ...op.get(S), ...op.get(S), ...op.shuffle(HIGH_HALF), ...op.f64x2PromoteLowF32x4, ...op.f64x2Add, ...op.set(ACC),
    ...addTo(X, op.i32(64)),
    ...addTo(Y, op.i32(64)),
  ];
  const rowAddress = (index: number) => [...op.get(STAGE), ...op.get(index), ...op.get(ROW_BYTES), ...op.i32Mul, ...op.i32Add];
  const outAddress = [...op.get(OUT), ...op.get(I), ...op.get(K), ...op.i32Mul, ...op.get(J), ...op.i32Add, ...op.i32(8), ...op.i32Mul, ...op.i32Add];
  const pair = [
    ...rowAddress(I), ...op.set(X),
    ...rowAddress(J), ...op.set(Y),
    ...op.get(X), ...op.get(BYTES), ...op.i32Add, ...op.set(END),
    ...op.zero, ...op.set(ACC),
    ...whileBelow(X, END, step),
    ...outAddress, ...outAddress, ...op.f64Load,
    ...op.get(ACC), ...op.f64x2Lane(0), ...op.f64Add, ...op.get(ACC), ...op.f64x2Lane(1), ...op.f64Add,
    ...op.f64Store,
    ...addTo(J, op.i32(1)),
  ];
  const row = [...op.get(I), ...op.i32(1), ...op.i32Add, ...op.set(J), ...whileBelow(J, K, pair), ...addTo(I, op.i32(1))];
  return functionBody([[5, I32], [3, V128]], whileBelow(I, ROWS, row));
}

/**
 * meanRows(first, count, rowBytes, bytes, out, divisor): for each lane of the first `bytes`
 * bytes, out = f32(Σ over `count` rows starting at address `first` / divisor), the sum and
 * the division in float64 as in the scalar code.
 */
function meanRowsFunction(): number[] {
  const [FIRST, COUNT, ROW_BYTES, BYTES, OUT, DIVISOR] = [0, 1, 2, 3, 4, 5];
  const [X, R, AT, V, LO, HI, DIV] = [6, 7, 8, 9, 10, 11, 12];
  const row = [
    ...op.get(AT), ...op.load(0), ...op.set(V),
    ...op.get(LO), ...op.get(V), ...op.f64x2PromoteLowF32x4, ...op.f64x2Add, ...op.set(LO),
    ...op.get(HI), ...op.get(V), ...op.get(V), ...op.shuffle(HIGH_HALF), ...op.f64x2PromoteLowF32x4, ...op.f64x2Add, ...op.set(HI),
    ...addTo(AT, op.get(ROW_BYTES)),
    ...addTo(R, op.i32(1)),
  ];
  const lane = [
    ...op.zero, ...op.set(LO), ...op.zero, ...op.set(HI),
    ...op.get(FIRST), ...op.get(X), ...op.i32Add, ...op.set(AT),
    ...op.i32(0), ...op.set(R),
    ...whileBelow(R, COUNT, row),
    ...op.get(OUT), ...op.get(X), ...op.i32Add,
    ...op.get(LO), ...op.get(DIV), ...op.f64x2Div, ...op.f32x4DemoteF64x2Zero,
    ...op.get(HI), ...op.get(DIV), ...op.f64x2Div, ...op.f32x4DemoteF64x2Zero,
    ...op.shuffle(LOW_HALVES), ...op.store(0),
    ...addTo(X, op.i32(16)),
  ];
  const body = [...op.get(DIVISOR), ...op.f64x2Splat, ...op.set(DIV), ...whileBelow(X, BYTES, lane)];
  return functionBody([[3, I32], [4, V128]], body);
}

function assembleModule(): Uint8Array<ArrayBuffer> {
  const types = [
    [0x60, ...vector([[I32], [I32], [I32]]), 0], // network
    [0x60, ...vector([[I32], [I32], [I32], [I32], [I32], [I32]]), 0], // distances
    [0x60, ...vector([[I32], [I32], [I32], [I32], [I32], [F64]]), 0], // meanRows
  ];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...section(1, vector(types)),
    ...section(3, vector([uleb(0), uleb(1), uleb(2)])),
    ...section(5, vector([[0x00, ...uleb(1)]])),
    ...section(7, vector([[...name('network'), 0x00, 0], [...name('distances'), 0x00, 1], [...name('meanRows'), 0x00, 2], [...name('memory'), 0x02, 0]])),
    ...section(10, vector([networkFunction(), distancesFunction(), meanRowsFunction()])),
  ]);
}

// --- the kernel --------------------------------------------------------------------------

interface Kernel {
  memory: WebAssembly.Memory;
  network: (pairs: number, count: number, bytes: number) => void;
  distances: (stage: number, K: number, rows: number, rowBytes: number, bytes: number, out: number) => void;
  meanRows: (first: number, count: number, rowBytes: number, bytes: number, out: number, divisor: number) => void;
}

let kernel: Kernel | null | undefined;

function loadKernel(): Kernel | null {
  if (kernel !== undefined) return kernel;
  try {
    const exported = new WebAssembly.Instance(new WebAssembly.Module(assembleModule())).exports as unknown as Kernel;
    kernel = { memory: exported.memory, network: exported.network, distances: exported.distances, meanRows: exported.meanRows };
  } catch {
    // No WebAssembly SIMD (old engine, or a page whose CSP forbids compiling): scalar path.
    kernel = null;
  }
  return kernel;
}

/** True when the robust SIMD kernels compiled on this engine. */
export function robustSimdAvailable(): boolean {
  return loadKernel() !== null;
}

function ensureMemory(k: Kernel, bytes: number): void {
  const missing = bytes - k.memory.buffer.byteLength;
  if (missing > 0) k.memory.grow(Math.ceil(missing / 65536));
}

/** Coordinates per staged block: K rows of it fit in about 512 KB (L2), a multiple of 16. */
function blockSize(K: number): number {
  return Math.max(64, Math.min(4096, Math.floor(131072 / K / 16) * 16));
}

// --- sorting networks --------------------------------------------------------------------

/**
 * Batcher's odd-even merge sort on n inputs as compare-exchange pairs (a < b: the minimum goes
 * to a). Built for the next power of two; comparators that touch a missing input are dropped,
 * which is exact because a missing input behaves as +∞ and never moves.
 */
export function oddEvenMergeNetwork(n: number): [number, number][] {
  const out: [number, number][] = [];
  let N = 1;
  while (N < n) N <<= 1;
  for (let p = 1; p < N; p <<= 1) {
    for (let k = p; k >= 1; k >>= 1) {
      for (let j = k % p; j + k < N; j += 2 * k) {
        for (let i = 0; i < Math.min(k, N - j - k); i++) {
          if (Math.floor((i + j) / (2 * p)) === Math.floor((i + j + k) / (2 * p)) && i + j + k < n) out.push([i + j, i + j + k]);
        }
      }
    }
  }
  return out;
}

/** The comparators that can influence the values at `outputs`, in network order. */
export function pruneNetwork(network: readonly [number, number][], outputs: Iterable<number>): [number, number][] {
  const needed = new Set(outputs);
  const kept: [number, number][] = [];
  for (let c = network.length - 1; c >= 0; c--) {
    const [a, b] = network[c]!;
    if (needed.has(a) || needed.has(b)) {
      kept.push([a, b]);
      needed.add(a);
      needed.add(b);
    }
  }
  return kept.reverse();
}

const networks = new Map<string, [number, number][]>();

/** A cached network on K inputs that leaves the sorted values at `outputs` in place. */
function networkFor(K: number, outputs: number[]): [number, number][] {
  const key = `${K}:${outputs.join(',')}`;
  let net = networks.get(key);
  if (net === undefined) {
    net = pruneNetwork(oddEvenMergeNetwork(K), outputs);
    if (networks.size > 64) networks.clear();
    networks.set(key, net);
  }
  return net;
}

/**
 * Stages every block of coordinates as K rows, runs the pruned network on it and hands it to
 * `take`: rows is the stage (value of vector r at coordinate start + j is at r·B + j), n the
 * coordinates in this block, stageAt its address in kernel memory, outAt a free row of B
 * float32 there. False without SIMD.
 */
function sortBlocks(
  vectors: readonly Float32Array[],
  outputs: number[],
  take: (rows: Float32Array, B: number, n: number, start: number, k: Kernel, stageAt: number, outAt: number) => void,
): boolean {
  const k = loadKernel();
  if (k === null) return false;
  const K = vectors.length;
  const P = vectors[0]!.length;
  const net = networkFor(K, outputs);
  const B = blockSize(K);
  const pairsAt = 0;
  const stageAt = Math.ceil((net.length * 8) / 16) * 16;
  const outAt = stageAt + K * B * 4;
  ensureMemory(k, outAt + B * 4);
  const pairs = new Int32Array(k.memory.buffer, pairsAt, net.length * 2);
  net.forEach(([a, b], c) => {
    pairs[2 * c] = stageAt + a * B * 4;
    pairs[2 * c + 1] = stageAt + b * B * 4;
  });
  const stage = new Float32Array(k.memory.buffer, stageAt, K * B);
  for (let start = 0; start < P; start += B) {
    const n = Math.min(B, P - start);
    for (let r = 0; r < K; r++) stage.set(vectors[r]!.subarray(start, start + n), r * B);
    // Lanes past n hold stale values; they are sorted along but never read.
    k.network(pairsAt, net.length, ((n + 3) >> 2) * 16);
    take(stage, B, n, start, k, stageAt, outAt);
  }
  return true;
}

/** out[i] = median of coordinate i (mean of the two middle values for even K), or null without SIMD. */
export function medianSimd(vectors: readonly Float32Array[], out: Float32Array): Float32Array | null {
  const K = vectors.length;
  const mid = K >> 1;
  const odd = K % 2 === 1;
  const ok = sortBlocks(vectors, odd ? [mid] : [mid - 1, mid], (rows, B, n, start) => {
    if (odd) {
      out.set(rows.subarray(mid * B, mid * B + n), start);
      return;
    }
    const lo = (mid - 1) * B;
    const hi = mid * B;
    for (let j = 0; j < n; j++) out[start + j] = (rows[lo + j]! + rows[hi + j]!) / 2;
  });
  return ok ? out : null;
}

/**
 * out[i] = mean of coordinate i without its t smallest and t largest values, or null without
 * SIMD. Only the 2t extreme positions need to be sorted: the network permutes values, so the
 * rows in between then hold exactly the kept ones (in some order).
 */
export function trimmedMeanSimd(vectors: readonly Float32Array[], t: number, out: Float32Array): Float32Array | null {
  const K = vectors.length;
  const kept = K - 2 * t;
  const ends = [...Array.from({ length: t }, (_, i) => i), ...Array.from({ length: t }, (_, i) => K - t + i)];
  const middle = Array.from({ length: kept }, (_, i) => t + i);
  const outputs = networkFor(K, ends).length <= networkFor(K, middle).length ? ends : middle;
  const ok = sortBlocks(vectors, outputs, (_rows, B, n, start, k, stageAt, outAt) => {
    k.meanRows(stageAt + t * B * 4, kept, B * 4, ((n + 3) >> 2) * 16, outAt, kept);
    out.set(new Float32Array(k.memory.buffer, outAt, n), start);
  });
  return ok ? out : null;
}

/**
 * Squared distances summed block by block by the kernel: all pairs (rows = K) or from
 * vectors[0] to the others (rows = 1). Returns the kernel's K×K float64 matrix (a view into
 * its memory, valid until the next call), or null without SIMD.
 */
function stagedDistances(vectors: readonly Float32Array[], rows: number): Float64Array | null {
  const k = loadKernel();
  if (k === null) return null;
  const K = vectors.length;
  const P = vectors[0]!.length;
  const B = blockSize(K);
  const outAt = 0;
  const stageAt = Math.ceil((K * K * 8) / 16) * 16;
  ensureMemory(k, stageAt + K * B * 4);
  const out = new Float64Array(k.memory.buffer, outAt, K * K);
  out.fill(0);
  const stage = new Float32Array(k.memory.buffer, stageAt, K * B);
  for (let start = 0; start < P; start += B) {
    const n = Math.min(B, P - start);
    const lanes = Math.ceil(n / 16) * 16;
    for (let r = 0; r < K; r++) {
      stage.set(vectors[r]!.subarray(start, start + n), r * B);
      // Lanes past n must not add to the distance: equal (zero) in every row.
      if (lanes > n) stage.fill(0, r * B + n, r * B + lanes);
    }
    k.distances(stageAt, K, rows, B * 4, lanes * 4, outAt);
  }
  return out;
}

/** The K×K matrix of squared distances ‖v_i − v_j‖² (float32 differences, float64 sums), or null without SIMD. */
export function pairwiseSquaredDistancesSimd(vectors: readonly Float32Array[]): Float64Array | null {
  const out = stagedDistances(vectors, vectors.length);
  if (out === null) return null;
  const K = vectors.length;
  const result = new Float64Array(K * K);
  for (let i = 0; i < K; i++) {
    for (let j = i + 1; j < K; j++) {
      result[i * K + j] = out[i * K + j]!;
      result[j * K + i] = out[i * K + j]!;
    }
  }
  return result;
}

/** ‖v_k − reference‖² for every k, or null without SIMD. */
export function squaredDistancesToSimd(reference: Float32Array, vectors: readonly Float32Array[]): Float64Array | null {
  const out = stagedDistances([reference, ...vectors], 1);
  return out === null ? null : out.slice(1, vectors.length + 1);
}
