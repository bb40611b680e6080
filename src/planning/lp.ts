// A small linear-program representation with named constraint groups, and its writer to
// CPLEX LP text (the format HiGHS reads). Constraints carry a human-readable label
// ("capacity of A") and a group (capacity, demand, budget, fairness, speed) so that
// answers and infeasibility diagnoses can be told in words rather than row numbers.

export type ConstraintGroup = 'capacity' | 'demand' | 'budget' | 'fairness' | 'speed';

export interface LinearTerm {
  column: number;
  coefficient: number;
}

export interface Constraint {
  /** Row name in the LP text: letters, digits and underscores only. */
  id: string;
  label: string;
  group: ConstraintGroup;
  terms: LinearTerm[];
  sense: '<=' | '>=';
  rhs: number;
}

export interface Column {
  /** Column name in the LP text: letters, digits and underscores only. */
  id: string;
  integer: boolean;
}

/** Columns are non-negative and unbounded above; every other limit is a named row. */
export interface LinearProgram {
  sense: 'maximize' | 'minimize';
  objective: LinearTerm[];
  columns: Column[];
  constraints: Constraint[];
}

/** Finite numbers in plain decimal or exponent form; both are valid LP-format literals. */
function literal(x: number): string {
  if (!Number.isFinite(x)) throw new RangeError(`LP coefficient ${x} is not finite`);
  return String(x);
}

function expression(terms: readonly LinearTerm[], columns: readonly Column[]): string {
  const nonzero = terms.filter((t) => t.coefficient !== 0);
  // HiGHS accepts an objective or row with a zero term but not an empty expression.
  if (nonzero.length === 0) return `0 ${columns[terms[0]?.column ?? 0]!.id}`;
  return nonzero
    .map((t, i) => {
      const sign = t.coefficient < 0 ? '-' : i === 0 ? '' : '+';
      return `${sign}${sign === '' ? '' : ' '}${literal(Math.abs(t.coefficient))} ${columns[t.column]!.id}`;
    })
    .join(' ');
}

export function toCplexLp(program: LinearProgram): string {
  if (program.columns.length === 0) throw new RangeError('a linear program needs at least one column');
  const lines = [program.sense === 'maximize' ? 'Maximize' : 'Minimize', ` obj: ${expression(program.objective, program.columns)}`, 'Subject To'];
  for (const c of program.constraints) lines.push(` ${c.id}: ${expression(c.terms, program.columns)} ${c.sense} ${literal(c.rhs)}`);
  lines.push('Bounds');
  for (const col of program.columns) lines.push(` ${col.id} >= 0`);
  const integers = program.columns.filter((c) => c.integer);
  if (integers.length > 0) lines.push('Generals', ` ${integers.map((c) => c.id).join(' ')}`);
  lines.push('End', '');
  return lines.join('\n');
}

/** Value of a row's left-hand side at a point. */
export function activity(constraint: Constraint, values: readonly number[]): number {
  return constraint.terms.reduce((sum, t) => sum + t.coefficient * (values[t.column] ?? 0), 0);
}

/** A row is binding when its left-hand side sits at its right-hand side, to solver tolerance. */
export function isBinding(constraint: Constraint, values: readonly number[], tolerance = 1e-6): boolean {
  return Math.abs(activity(constraint, values) - constraint.rhs) <= tolerance * Math.max(1, Math.abs(constraint.rhs));
}
