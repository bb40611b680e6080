// What a plan optimizes and under which limits. Checked against the resources too: the
// minimum-time objective needs every member's speed, fair shares must add up to at most
// the whole, and the minimizing objectives need a demand to meet.

import { z } from 'zod';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { formatPath, parseWith } from '../protocol/problems.js';
import { PLAN_OBJECTIVES } from './constants.js';
import { unitsPerHour, type Resources } from './resources.js';

const finite = z.number().finite();

export const PlanOptionsSchema = z
  .object({
    /**
     * max-compute: maximize effective compute Σ f_i R_i.
     * min-cost / min-carbon: cheapest / cleanest plan that delivers `demand`.
     * min-time: shortest makespan T (hours) with R_i ≤ unitsPerHour_i · availability_i · T.
     */
    objective: z.enum(PLAN_OBJECTIVES),
    /** Effective compute Σ f_i R_i to deliver; required by the min-* objectives, a floor for max-compute. */
    demand: finite.positive('expected a number > 0').optional(),
    /** Upper limit on Σ costPerUnit_i R_i; none by default. */
    budget: finite.min(0, 'expected a number >= 0').optional(),
    /** Every member does at least this share of the total work: R_i ≥ minShare · Σ R_j. Default 0 (off). */
    minShare: finite.min(0, 'expected a number in [0, 1]').max(1, 'expected a number in [0, 1]').default(0),
    /** Allocate whole batches rather than fractional units (a mixed-integer program). Default false. */
    integer: z.boolean().default(false),
    /** Units of work per batch when `integer` is set; default 1. */
    batchSize: finite.positive('expected a number > 0').optional(),
  })
  .strict();

export type PlanOptionsInput = z.input<typeof PlanOptionsSchema>;
export type PlanOptions = z.output<typeof PlanOptionsSchema> & { batchSize: number };

function invalid(field: string, message: string, expected: unknown, received: unknown): ConcordError {
  return new ConcordError(ErrorCode.INVALID_ARGUMENT, `${field}: ${message}`, { details: { field, expected, received } });
}

export function parsePlanOptions(value: unknown, resources: Resources, prefix: readonly string[] = [], resourcesPrefix: readonly string[] = []): PlanOptions {
  const options = parseWith(PlanOptionsSchema, value, 'plan options', { prefix });
  const at = (field: string) => formatPath([...prefix, field]);
  if (options.objective !== 'max-compute' && options.demand === undefined) {
    throw invalid(at('demand'), `objective ${options.objective} needs a demand (effective compute to deliver)`, 'a number > 0', undefined);
  }
  if (options.batchSize !== undefined && !options.integer) {
    throw invalid(at('batchSize'), 'batchSize applies only to whole-batch plans; set integer: true', 'integer: true', options.batchSize);
  }
  const n = resources.members.length;
  if (options.minShare * n > 1 + 1e-12) {
    throw invalid(at('minShare'), `a share of ${options.minShare} for each of ${n} members adds up to more than the whole work`, `at most ${1 / n}`, options.minShare);
  }
  if (options.objective === 'min-time') {
    resources.members.forEach((member, i) => {
      if (member.capacity !== 0 && unitsPerHour(member) === undefined) {
        throw invalid(formatPath([...resourcesPrefix, 'members', i, 'unitsPerHour']), `objective min-time needs the speed of member "${member.name}"; give unitsPerHour or a capacity`, 'a number > 0', undefined);
      }
    });
  }
  return { ...options, batchSize: options.batchSize ?? 1 };
}
