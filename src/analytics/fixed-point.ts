// Exact sums through a ring of 32-bit words. A member's cell totals become integers —
// counts as they are, sums in fixed point with FRACTION_BITS fractional bits (rounded once,
// at the member) — stored in two's complement modulo 2^TOTAL_BITS and split into limbs of
// `limbBits` bits, one ring element each. Every limb is below 2^limbBits, and limbBits is
// chosen (by secure aggregation's overflow rule, N·(2^limbBits − 1) < 2^31) so that the sum
// of N members' limbs never wraps; recombining the limb sums Σ_i S_i·2^(limbBits·i) modulo
// 2^TOTAL_BITS gives the exact integer total of every member's cell, as long as it lies
// within ±2^(TOTAL_BITS − 1) (2^87 at 40 fractional bits: far beyond any bounded query).

import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { CellPlan } from './plan.js';

export const FRACTION_BITS = 40;
export const TOTAL_BITS = 128;
const SCALE = 2 ** FRACTION_BITS;

export function limbsPerCell(limbBits: number): number {
  return Math.ceil(TOTAL_BITS / limbBits);
}

/** The ring vector of one member's cell totals: limbsPerCell(limbBits) elements per cell. */
export function encodeCells(cells: readonly CellPlan[], totals: Float64Array, limbBits: number): Uint32Array {
  const per = limbsPerCell(limbBits);
  const out = new Uint32Array(cells.length * per);
  const mask = (1n << BigInt(limbBits)) - 1n;
  cells.forEach((cell, c) => {
    const v = totals[c]!;
    if (!Number.isFinite(v)) throw new ConcordError(ErrorCode.NON_FINITE, `cell ${cell.key} is ${v}`, { details: { field: cell.key, expected: 'finite', received: String(v) } });
    let u = BigInt.asUintN(TOTAL_BITS, cell.kind === 'count' ? BigInt(Math.round(v)) : BigInt(Math.round(v * SCALE)));
    for (let i = 0; i < per; i++) {
      out[c * per + i] = Number(u & mask);
      u >>= BigInt(limbBits);
    }
  });
  return out;
}

/** Adds ring vectors element-wise modulo 2^32 (plain mode: the coordinator sums what members send). */
export function addRing(target: Uint32Array, vector: Uint32Array): void {
  for (let i = 0; i < target.length; i++) target[i] = (target[i]! + vector[i]!) >>> 0;
}

/** The exact integer totals back from summed limbs, as numbers in the cells' units. */
export function decodeCells(cells: readonly CellPlan[], sum: Uint32Array, limbBits: number): { exact: bigint[]; totals: Float64Array } {
  const per = limbsPerCell(limbBits);
  if (sum.length !== cells.length * per) {
    throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `the summed vector has ${sum.length} elements; ${cells.length} cells of ${per} limbs need ${cells.length * per}`, { details: { field: 'sum', expected: cells.length * per, received: sum.length } });
  }
  const exact: bigint[] = [];
  const totals = new Float64Array(cells.length);
  cells.forEach((cell, c) => {
    let u = 0n;
    for (let i = per - 1; i >= 0; i--) u = (u << BigInt(limbBits)) + BigInt(sum[c * per + i]!);
    const v = BigInt.asIntN(TOTAL_BITS, u);
    exact.push(v);
    totals[c] = cell.kind === 'count' ? Number(v) : fixedToNumber(v);
  });
  return { exact, totals };
}

/** A fixed-point integer as a number, rounding once (integer and fractional parts apart, so no precision is lost to the scale). */
function fixedToNumber(v: bigint): number {
  const negative = v < 0n;
  const a = negative ? -v : v;
  const whole = a >> BigInt(FRACTION_BITS);
  const fraction = a & ((1n << BigInt(FRACTION_BITS)) - 1n);
  const n = Number(whole) + Number(fraction) / SCALE;
  return negative ? -n : n;
}
