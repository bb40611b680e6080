// The HiGHS solver (Huangfu & Hall 2018, "Parallelizing the dual revised simplex method",
// Math. Prog. Comp.) compiled to WebAssembly by the `highs` package. Node finds highs.wasm
// beside the package's loader; browsers pass `locateFile` through `highsInitOptions`.
// The runtime is loaded once and shared; solves are synchronous once it is loaded.

import highsModule from 'highs';
import type { Highs, InitOptions } from 'highs';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { toCplexLp, type LinearProgram } from './lp.js';

type Loader = (options?: InitOptions) => Promise<Highs>;

// The package is CommonJS with a `default` alias and also ships an ES module whose default
// export is the loader itself; the type declarations describe only the former.
const loadHighs: Loader =
  typeof highsModule === 'function' ? (highsModule as unknown as Loader) : (highsModule as unknown as { default: Loader }).default;

let runtime: Promise<Highs> | undefined;
let initOptions: InitOptions | undefined;

/** Where the browser build finds highs.wasm; call before the first solve. */
export function highsInitOptions(options: InitOptions): void {
  initOptions = options;
  runtime = undefined;
}

function highs(): Promise<Highs> {
  runtime ??= loadHighs(initOptions).catch((cause: unknown) => {
    runtime = undefined;
    throw new ConcordError(ErrorCode.UNAVAILABLE, `the HiGHS solver could not be loaded: ${(cause as Error).message ?? String(cause)}`, { cause });
  });
  return runtime;
}

export type SolveStatus = 'optimal' | 'infeasible' | 'unbounded' | 'infeasible-or-unbounded';

export interface LpSolution {
  status: SolveStatus;
  /** Objective value; meaningful only when optimal. */
  objective: number;
  /** Column values in program order; meaningful only when optimal. */
  values: number[];
  timeMs: number;
}

const STATUS: Record<string, SolveStatus> = {
  Optimal: 'optimal',
  Infeasible: 'infeasible',
  Unbounded: 'unbounded',
  'Primal infeasible or unbounded': 'infeasible-or-unbounded',
};

export async function solveLp(program: LinearProgram): Promise<LpSolution> {
  const solver = await highs();
  const text = toCplexLp(program);
  const started = performance.now();
  let result: ReturnType<Highs['solve']>;
  try {
    result = solver.solve(text, { output_flag: false });
  } catch (cause) {
    // A trap inside WebAssembly can leave the instance unusable; load a fresh one next time.
    runtime = undefined;
    throw new ConcordError(ErrorCode.INTERNAL, `the HiGHS solver failed: ${(cause as Error).message ?? String(cause)}`, { cause });
  }
  const timeMs = performance.now() - started;
  const status = STATUS[result.Status];
  if (status === undefined) {
    throw new ConcordError(ErrorCode.INTERNAL, `the HiGHS solver stopped with status "${result.Status}"`, {
      details: { expected: 'Optimal, Infeasible or Unbounded', received: result.Status },
    });
  }
  const values = program.columns.map((c) => {
    const column = result.Columns[c.id] as { Primal?: number } | undefined;
    return column?.Primal ?? 0;
  });
  return { status, objective: result.ObjectiveValue, values, timeMs };
}
