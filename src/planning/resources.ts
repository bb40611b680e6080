// The resources file: what compute each member offers to the consortium. Members declare
// capacity R_i, efficiency f_i, price, availability, grid carbon intensity and power; the
// planner (plan.ts) turns these into a linear program. A bad field becomes an
// INVALID_ARGUMENT that names it (e.g. `members.1.efficiency`) and what was expected.

import { z } from 'zod';
import { validateDocumentText } from '../protocol/document.js';
import { parseWith } from '../protocol/problems.js';
import { DEFAULT_CARBON_INTENSITY } from './constants.js';


const finite = (expected: string) =>
  z.number({ invalid_type_error: `expected ${expected}`, required_error: `required: ${expected}` }).finite(`expected ${expected}`);

export const ResourceMemberSchema = z
  .object({
    name: z.string({ required_error: 'required: a non-empty name' }).min(1, 'expected a non-empty name').max(200, 'expected at most 200 characters'),
    /**
     * Upper bound on the units of work (e.g. sample-epochs) this member can do in the
     * planning period; `null` declares no limit. Required so that "unlimited" is a choice.
     */
    capacity: finite('a number >= 0, or null for no limit').min(0, 'expected a number >= 0, or null for no limit').nullable(),
    /** f_i in (0, 1]: the share of a unit of work that counts as effective compute. */
    efficiency: finite('a number in (0, 1]').gt(0, 'expected a number in (0, 1]').max(1, 'expected a number in (0, 1]'),
    /** Price of one unit of work; default 0. */
    costPerUnit: finite('a number >= 0').min(0, 'expected a number >= 0').default(0),
    /** Largest share of the member's capacity and time the consortium may use; default 1. */
    availability: finite('a number in [0, 1]').min(0, 'expected a number in [0, 1]').max(1, 'expected a number in [0, 1]').default(1),
    /** Grid carbon intensity in gCO₂/kWh; default 475. */
    carbonIntensity: finite('a number >= 0 (gCO2/kWh)').min(0, 'expected a number >= 0 (gCO2/kWh)').default(DEFAULT_CARBON_INTENSITY),
    /** Power draw while working, in watts; default 0 (no energy accounted). */
    powerWatts: finite('a number >= 0 (watts)').min(0, 'expected a number >= 0 (watts)').default(0),
    /**
     * Units of work per hour while working. When absent, `capacity` is read as an hourly
     * rate (a one-hour planning period), which is how most members state it.
     */
    unitsPerHour: finite('a number > 0').gt(0, 'expected a number > 0').optional(),
  })
  .strict();

export const ResourcesSchema = z
  .object({
    members: z.array(ResourceMemberSchema, { required_error: 'required: a list of members' }).min(1, 'expected at least one member'),
  })
  .strict()
  .superRefine((resources, ctx) => {
    const seen = new Map<string, number>();
    resources.members.forEach((member, i) => {
      const first = seen.get(member.name);
      if (first !== undefined) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['members', i, 'name'], message: `expected a unique name; "${member.name}" is also members.${first}.name` });
      }
      seen.set(member.name, i);
      if (member.powerWatts > 0 && member.unitsPerHour === undefined && member.capacity === null) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['members', i, 'unitsPerHour'],
          message: 'expected a number > 0: with powerWatts set and no capacity, energy per unit of work needs unitsPerHour',
        });
      }
    });
  });

export type ResourceMember = z.output<typeof ResourceMemberSchema>;
export type ResourceMemberInput = z.input<typeof ResourceMemberSchema>;
export type Resources = z.output<typeof ResourcesSchema>;
export type ResourcesInput = z.input<typeof ResourcesSchema>;

/** Validates a parsed resources document and fills in defaults; every problem is listed, under `prefix`. */
export function parseResources(value: unknown, prefix: readonly string[] = []): Resources {
  return parseWith(ResourcesSchema, value, 'resources', { prefix });
}

/** Parses the JSON text of a resources file; problems name `source`, line and column. */
export function parseResourcesJson(text: string, source = 'resources'): Resources {
  return validateDocumentText(ResourcesSchema, text, { source, format: 'json' });
}

/** Units of work per hour while working: `unitsPerHour`, else `capacity` read as an hourly rate. */
export function unitsPerHour(member: ResourceMember): number | undefined {
  return member.unitsPerHour ?? (member.capacity !== null && member.capacity > 0 ? member.capacity : undefined);
}

/** Grams of CO₂ emitted per unit of work: power / speed gives Wh per unit, times grid intensity. */
export function carbonGramsPerUnit(member: ResourceMember): number {
  if (member.powerWatts === 0 || member.carbonIntensity === 0) return 0;
  const speed = unitsPerHour(member);
  if (speed === undefined) return 0;
  return (member.powerWatts / speed / 1000) * member.carbonIntensity;
}
