// A minimal WebAssembly binary writer, shared by the SIMD kernels (weighted-sum-kernel.ts,
// robust-kernel.ts) that assemble their modules in code: no build step, no binary blob.
// Encodings follow the WebAssembly core specification (LEB128 integers, sections, opcodes).

export const uleb = (value: number): number[] => {
  const out: number[] = [];
  let n = value >>> 0;
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
};

export const sleb = (value: number): number[] => {
  const out: number[] = [];
  let n = value | 0;
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
};

export const name = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
export const vector = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
export const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

export const I32 = 0x7f;
export const F32 = 0x7d;
export const F64 = 0x7c;
export const V128 = 0x7b;
export const simd = (code: number): number[] => [0xfd, ...uleb(code)];
const ALIGN_16 = 4; // log2 of the v128 alignment hint

/** The opcodes both kernels use; each adds its own. */
export const baseOps = {
  get: (i: number) => [0x20, ...uleb(i)],
  set: (i: number) => [0x21, ...uleb(i)],
  i32: (v: number) => [0x41, ...sleb(v)],
  i32Add: [0x6a],
  i32Mul: [0x6c],
  i32GeU: [0x4f],
  i32Shl: [0x74],
  load: (offset: number) => [...simd(0x00), ALIGN_16, ...uleb(offset)],
  store: (offset: number) => [...simd(0x0b), ALIGN_16, ...uleb(offset)],
  shuffle: (lanes: number[]) => [...simd(0x0d), ...lanes],
  f32x4Add: simd(0xe4),
  f32x4Mul: simd(0xe6),
  f64x2Add: simd(0xf0),
  f32x4DemoteF64x2Zero: simd(0x5e),
  f64x2PromoteLowF32x4: simd(0x5f),
};
