// A member's side of a query: its cell totals over its own validated records, then their
// ring encoding. Nothing else of the records leaves the member.

import type { HarmonisedRecord } from '../data/schema/validate.js';
import { encodeCells } from './fixed-point.js';
import type { QueryPlan } from './plan.js';

export function cellTotals(plan: QueryPlan, records: readonly HarmonisedRecord[]): Float64Array {
  const out = new Float64Array(plan.cells.length);
  for (const record of records) plan.contribute(record, out);
  return out;
}

/** The vector this member adds to the secure sum. */
export function memberContribution(plan: QueryPlan, records: readonly HarmonisedRecord[], limbBits: number): Uint32Array {
  return encodeCells(plan.cells, cellTotals(plan, records), limbBits);
}
