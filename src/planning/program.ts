// Turns resources and plan options into a linear program. Column i is the work of member i
// in batches of `batchSize` units (one unit when plans are fractional); min-time adds a
// last column T, the makespan in hours. Variants drop constraint groups or swap the
// objective; the infeasibility diagnosis (explain.ts) re-solves such variants.

import type { Column, Constraint, ConstraintGroup, LinearProgram, LinearTerm } from './lp.js';
import type { PlanOptions } from './options.js';
import { carbonGramsPerUnit, unitsPerHour, type Resources } from './resources.js';

/** Constraint groups plus whole-batch integrality, which diagnoses may also relax. */
export type PlanConstraintGroup = ConstraintGroup | 'integrality';

export interface ProgramVariant {
  /** Groups left out of the program; default none. */
  omit?: ReadonlySet<PlanConstraintGroup>;
  /** The plan's own objective (default), none (a feasibility test), or maximal effective compute. */
  objective?: 'plan' | 'feasibility' | 'max-compute';
  /** Members held to zero work, by index. */
  idle?: ReadonlySet<number>;
}

export interface PlanProgram {
  program: LinearProgram;
  /** Units of work per column unit. */
  scale: number;
}

export function buildPlanProgram(resources: Resources, options: PlanOptions, variant: ProgramVariant = {}): PlanProgram {
  const members = resources.members;
  const omit = variant.omit ?? new Set<PlanConstraintGroup>();
  const idle = variant.idle ?? new Set<number>();
  const keep = (group: PlanConstraintGroup) => !omit.has(group);
  const scale = options.integer ? options.batchSize : 1;
  const minTime = options.objective === 'min-time';
  const n = members.length;
  const integer = options.integer && keep('integrality');

  const columns: Column[] = members.map((_, i) => ({ id: `x${i}`, integer }));
  if (minTime) columns.push({ id: 'T', integer: false });
  const perUnit = (value: (i: number) => number): LinearTerm[] => members.map((_, i) => ({ column: i, coefficient: value(i) * scale }));
  const effective = perUnit((i) => members[i]!.efficiency);
  const cost = perUnit((i) => members[i]!.costPerUnit);

  const constraints: Constraint[] = [];
  members.forEach((member, i) => {
    if (idle.has(i)) {
      constraints.push({ id: `idle_${i}`, label: `${member.name} held idle`, group: 'capacity', terms: [{ column: i, coefficient: scale }], sense: '<=', rhs: 0 });
    } else if (keep('capacity') && member.capacity !== null) {
      const rhs = member.capacity * member.availability;
      constraints.push({ id: `capacity_${i}`, label: `capacity of ${member.name}`, group: 'capacity', terms: [{ column: i, coefficient: scale }], sense: '<=', rhs });
    }
  });
  if (keep('demand') && options.demand !== undefined) {
    constraints.push({ id: 'demand', label: 'demand', group: 'demand', terms: effective, sense: '>=', rhs: options.demand });
  }
  if (keep('budget') && options.budget !== undefined && cost.some((t) => t.coefficient > 0)) {
    constraints.push({ id: 'budget', label: 'budget', group: 'budget', terms: cost, sense: '<=', rhs: options.budget });
  }
  const s = options.minShare;
  if (keep('fairness') && s > 0 && n > 1) {
    // R_i ≥ s Σ_j R_j, written as (1 − s) R_i − s Σ_{j≠i} R_j ≥ 0; the common scale cancels.
    members.forEach((member, i) => {
      const terms = members.map((_, j) => ({ column: j, coefficient: j === i ? 1 - s : -s }));
      constraints.push({ id: `fair_${i}`, label: `fair share of ${member.name}`, group: 'fairness', terms, sense: '>=', rhs: 0 });
    });
  }
  if (minTime && keep('speed')) {
    members.forEach((member, i) => {
      const speed = unitsPerHour(member);
      if (speed === undefined) return; // only members with capacity 0, which the capacity row holds at 0
      const terms = [
        { column: i, coefficient: scale },
        { column: n, coefficient: -speed * member.availability },
      ];
      constraints.push({ id: `speed_${i}`, label: `speed of ${member.name}`, group: 'speed', terms, sense: '<=', rhs: 0 });
    });
  }

  const objectiveKind = variant.objective ?? 'plan';
  let sense: LinearProgram['sense'] = 'minimize';
  let objective: LinearTerm[];
  if (objectiveKind === 'feasibility') {
    objective = [{ column: 0, coefficient: 0 }];
  } else if (objectiveKind === 'max-compute' || options.objective === 'max-compute') {
    sense = 'maximize';
    objective = effective;
  } else if (options.objective === 'min-cost') {
    objective = cost;
  } else if (options.objective === 'min-carbon') {
    objective = perUnit((i) => carbonGramsPerUnit(members[i]!));
  } else {
    objective = [{ column: n, coefficient: 1 }];
  }
  return { program: { sense, objective, columns, constraints }, scale };
}

/** The groups a plan's program actually contains, integrality included. */
export function presentGroups(program: LinearProgram): PlanConstraintGroup[] {
  const groups = new Set<PlanConstraintGroup>(program.constraints.filter((c) => !c.id.startsWith('idle_')).map((c) => c.group));
  if (program.columns.some((c) => c.integer)) groups.add('integrality');
  return [...groups];
}
