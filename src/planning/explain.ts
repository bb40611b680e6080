// Says in words why a plan has no answer. Infeasibility: a deletion filter over the named
// constraint groups (Chinneck & Dravnieks 1991, "Locating minimal infeasible constraint
// sets in linear programs", ORSA J. Computing) finds a set of groups that conflict and
// stays feasible when any one of them is dropped; the message then states the limit that
// set imposes on effective compute. Unboundedness: members without a declared capacity are
// tried one at a time to find those whose work nothing limits.

import { solveLp } from './highs.js';
import type { PlanOptions } from './options.js';
import { buildPlanProgram, type PlanConstraintGroup } from './program.js';
import type { Resources } from './resources.js';

export interface Diagnosis {
  explanation: string;
  /** Infeasible plans: a minimal set of constraint groups that cannot all hold. */
  conflict?: PlanConstraintGroup[];
  /** Unbounded plans: members whose work nothing limits. */
  unlimited?: string[];
}

/** Groups dropped first are the ones a diagnosis would rather not blame. */
const DELETION_ORDER: PlanConstraintGroup[] = ['speed', 'integrality', 'fairness', 'budget', 'capacity', 'demand'];

export function formatQuantity(x: number): string {
  return String(Number(x.toPrecision(6)));
}

async function isFeasible(resources: Resources, options: PlanOptions, keep: ReadonlySet<PlanConstraintGroup>): Promise<boolean> {
  const omit = new Set(DELETION_ORDER.filter((g) => !keep.has(g)));
  const { program } = buildPlanProgram(resources, options, { omit, objective: 'feasibility' });
  // With a zero objective the program cannot be unbounded, so any non-optimal status means infeasible.
  return (await solveLp(program)).status === 'optimal';
}

/** Whether the full program is infeasible; used when the solver could not tell it from unbounded. */
export async function planIsFeasible(resources: Resources, options: PlanOptions): Promise<boolean> {
  return isFeasible(resources, options, new Set(DELETION_ORDER));
}

export async function minimalConflict(resources: Resources, options: PlanOptions, present: readonly PlanConstraintGroup[]): Promise<PlanConstraintGroup[]> {
  const conflict = new Set(present);
  for (const group of DELETION_ORDER) {
    if (!conflict.has(group)) continue;
    conflict.delete(group);
    if (await isFeasible(resources, options, conflict)) conflict.add(group);
  }
  return DELETION_ORDER.filter((g) => conflict.has(g));
}

function describeLimits(groups: readonly PlanConstraintGroup[], options: PlanOptions): string {
  const parts = groups.map((g) => {
    switch (g) {
      case 'capacity':
        return "the members' capacities";
      case 'budget':
        return `the budget ${formatQuantity(options.budget ?? 0)}`;
      case 'fairness':
        return `a fair share of at least ${formatQuantity(options.minShare)} of the work for every member`;
      case 'integrality':
        return `whole batches of ${formatQuantity(options.batchSize)} units`;
      case 'speed':
        return "the members' speeds";
      case 'demand':
        return 'the demand';
    }
  });
  return parts.length <= 1 ? (parts[0] ?? '') : `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}`;
}

const REMEDY: Record<PlanConstraintGroup, string> = {
  capacity: 'raise capacities',
  budget: 'raise the budget',
  fairness: 'lower minShare',
  integrality: 'allow fractional units',
  speed: 'raise speeds',
  demand: 'lower demand',
};

export async function explainInfeasible(resources: Resources, options: PlanOptions, present: readonly PlanConstraintGroup[]): Promise<Diagnosis> {
  const conflict = await minimalConflict(resources, options, present);
  const limits: PlanConstraintGroup[] = conflict.filter((g) => g !== 'demand');
  const remedy = [...limits.map((g) => REMEDY[g]), REMEDY.demand].join(' or ');
  const omit = new Set(DELETION_ORDER.filter((g) => !limits.includes(g)));
  const best = await solveLp(buildPlanProgram(resources, options, { omit, objective: 'max-compute' }).program);
  if (!conflict.includes('demand') || best.status !== 'optimal') {
    return { conflict, explanation: `${describeLimits(conflict, options)} cannot all hold at once; ${remedy}` };
  }
  const most = formatQuantity(Math.max(0, best.objective));
  const demand = formatQuantity(options.demand ?? 0);
  let explanation: string;
  if (limits.length === 1 && limits[0] === 'capacity') {
    explanation = `demand ${demand} exceeds the total effective capacity ${most} of all members; ${remedy}`;
  } else if (limits.length === 1 && limits[0] === 'budget') {
    explanation = `demand ${demand} exceeds the effective compute ${most} that the budget ${formatQuantity(options.budget ?? 0)} can buy; ${remedy}`;
  } else {
    explanation = `demand ${demand} exceeds the effective compute ${most} that ${describeLimits(limits, options)} allow together; ${remedy}`;
  }
  return { conflict, explanation };
}

function listNames(names: readonly string[]): string {
  const quoted = names.map((n) => `"${n}"`);
  return quoted.length <= 1 ? (quoted[0] ?? '') : `${quoted.slice(0, -1).join(', ')} and ${quoted[quoted.length - 1]}`;
}

export async function explainUnbounded(resources: Resources, options: PlanOptions): Promise<Diagnosis> {
  const uncapped = resources.members.flatMap((m, i) => (m.capacity === null ? [i] : []));
  const culprits: number[] = [];
  for (const i of uncapped) {
    const idle = new Set(uncapped.filter((j) => j !== i));
    const { program } = buildPlanProgram(resources, options, { idle });
    const { status } = await solveLp(program);
    if (status === 'unbounded' || status === 'infeasible-or-unbounded') culprits.push(i);
  }
  const unlimitedIdx = culprits.length > 0 ? culprits : uncapped;
  const unlimited = unlimitedIdx.map((i) => resources.members[i]!.name);
  if (unlimited.length === 0) return { unlimited, explanation: 'the objective has no bound under these constraints; check capacities and demand' };
  const one = unlimited.length === 1;
  const free = options.budget !== undefined && unlimitedIdx.every((i) => resources.members[i]!.costPerUnit === 0);
  const why = options.budget === undefined ? 'no budget is set' : free ? `${one ? 'it costs' : 'they cost'} nothing per unit, so the budget does not limit ${one ? 'it' : 'them'}` : 'nothing else limits their work';
  const remedy = options.budget === undefined ? 'declare a capacity or set a budget' : free ? 'declare a capacity or a cost per unit' : 'declare a capacity';
  return {
    unlimited,
    explanation: `effective compute has no upper limit: member${one ? '' : 's'} ${listNames(unlimited)} declare${one ? 's' : ''} no capacity and ${why}; ${remedy}`,
  };
}
