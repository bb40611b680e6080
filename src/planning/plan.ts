// Resource planning: who does how much work. A linear (or, for whole batches, mixed-integer)
// program over the members' declared compute, solved by HiGHS, maximizes effective compute
// C = Σ f_i R_i or meets a demand at least cost, carbon or time, under capacity, budget and
// fair-share limits. Plans without an answer come back with the reason in words.

import { isBinding } from './lp.js';
import { solveLp } from './highs.js';
import { explainInfeasible, explainUnbounded, planIsFeasible } from './explain.js';
import type { PlanObjective } from './constants.js';
import { parsePlanOptions, type PlanOptionsInput } from './options.js';
import { buildPlanProgram, presentGroups, type PlanConstraintGroup } from './program.js';
import { carbonGramsPerUnit, parseResources, type Resources, type ResourcesInput } from './resources.js';

export interface MemberAllocation {
  name: string;
  /** Units of work assigned, R_i. */
  units: number;
  /** f_i · R_i. */
  effectiveCompute: number;
  cost: number;
  carbonGrams: number;
}

export interface PlanResult {
  status: 'optimal' | 'infeasible' | 'unbounded';
  objectiveName: PlanObjective;
  /**
   * Optimal value: effective compute (max-compute), total cost (min-cost), grams of CO₂
   * (min-carbon) or makespan in hours (min-time); null without an optimum.
   */
  objective: number | null;
  /** One entry per member, in resources order; empty without an optimum. */
  allocation: MemberAllocation[];
  totals: { units: number; effectiveCompute: number; cost: number; carbonGrams: number } | null;
  /** Human-readable names of the constraints at their bound, e.g. "capacity of A". */
  binding: string[];
  /** Time HiGHS spent on the plan's own program (not on diagnoses). */
  solverTimeMs: number;
  /** Why there is no optimum; absent when optimal. */
  explanation?: string;
  /** Infeasible plans: a minimal set of constraint groups that conflict. */
  conflict?: PlanConstraintGroup[];
  /** Unbounded plans: members whose work nothing limits. */
  unlimited?: string[];
}

/** Solver noise below this is shown as the nearby round number. */
function tidy(x: number): number {
  const rounded = Math.round(x);
  return Math.abs(x - rounded) <= 1e-9 * Math.max(1, Math.abs(x)) ? rounded + 0 : x;
}

function allocate(resources: Resources, units: readonly number[]): MemberAllocation[] {
  return resources.members.map((m, i) => {
    const r = units[i]!;
    return {
      name: m.name,
      units: r,
      effectiveCompute: tidy(m.efficiency * r),
      cost: tidy(m.costPerUnit * r),
      carbonGrams: tidy(carbonGramsPerUnit(m) * r),
    };
  });
}

/**
 * Plans the consortium's compute. `resources` is validated (and defaulted) here, so a raw
 * parsed resources file may be passed; bad input throws an INVALID_ARGUMENT naming the field.
 */
export async function solvePlan(resources: ResourcesInput | Resources, options: PlanOptionsInput, where: { options?: readonly string[]; resources?: readonly string[] } = {}): Promise<PlanResult> {
  const parsed = parseResources(resources, where.resources);
  const opts = parsePlanOptions(options, parsed, where.options, where.resources);
  const { program, scale } = buildPlanProgram(parsed, opts);
  const solution = await solveLp(program);
  const base = { objectiveName: opts.objective, objective: null, allocation: [], totals: null, binding: [], solverTimeMs: solution.timeMs };

  let status = solution.status;
  if (status === 'infeasible-or-unbounded') status = (await planIsFeasible(parsed, opts)) ? 'unbounded' : 'infeasible';
  if (status === 'infeasible') {
    const diagnosis = await explainInfeasible(parsed, opts, presentGroups(program));
    return { status, ...base, ...diagnosis };
  }
  if (status === 'unbounded') {
    const diagnosis = await explainUnbounded(parsed, opts);
    return { status, ...base, ...diagnosis };
  }

  const values = solution.values.map((v) => Math.max(0, v));
  const allocation = allocate(
    parsed,
    values.slice(0, parsed.members.length).map((x) => tidy(x * scale)),
  );
  const sum = (key: 'units' | 'effectiveCompute' | 'cost' | 'carbonGrams') => tidy(allocation.reduce((s, a) => s + a[key], 0));
  return {
    status: 'optimal',
    ...base,
    objective: tidy(solution.objective),
    allocation,
    totals: { units: sum('units'), effectiveCompute: sum('effectiveCompute'), cost: sum('cost'), carbonGrams: sum('carbonGrams') },
    binding: program.constraints.filter((c) => isBinding(c, values)).map((c) => c.label),
  };
}
