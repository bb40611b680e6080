// What `concord plan` does (registered in plan-command.ts): solve the resource plan with HiGHS.

import { PLAN_OBJECTIVES, type PlanObjective } from '../planning/constants.js';
import { solvePlan } from '../planning/plan.js';
import { parseResourcesJson } from '../planning/resources.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { readInputFile } from './options.js';

export async function planResources(opts: { resources: string; objective: string; demand?: number; budget?: number; fairness?: number; integer?: boolean; json?: boolean }): Promise<void> {
  if (!(PLAN_OBJECTIVES as readonly string[]).includes(opts.objective)) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `--objective must be one of ${PLAN_OBJECTIVES.join(', ')}, got ${JSON.stringify(opts.objective)}`, {
      details: { field: '--objective', expected: PLAN_OBJECTIVES, received: opts.objective },
    });
  }
  const plan = await solvePlan(parseResourcesJson(await readInputFile(opts.resources, '--resources'), opts.resources), {
    objective: opts.objective as PlanObjective,
    ...(opts.demand !== undefined ? { demand: opts.demand } : {}),
    ...(opts.budget !== undefined ? { budget: opts.budget } : {}),
    ...(opts.fairness !== undefined ? { minShare: opts.fairness } : {}),
    ...(opts.integer ? { integer: true } : {}),
  });
  if (opts.json) {
    process.stdout.write(JSON.stringify(plan) + '\n');
  } else if (plan.status !== 'optimal') {
    process.stdout.write(`no plan (${plan.status}): ${plan.explanation}\n`);
  } else {
    process.stdout.write(`${plan.objectiveName}: objective ${plan.objective}\n`);
    for (const a of plan.allocation) {
      process.stdout.write(`  ${a.name.padEnd(16)} ${String(a.units).padStart(10)} units  effective ${a.effectiveCompute}  cost ${a.cost}  ${a.carbonGrams.toFixed(1)} gCO2\n`);
    }
    process.stdout.write(`binding: ${plan.binding.join(', ') || 'none'}\n`);
  }
  if (plan.status !== 'optimal') process.exitCode = 2;
}

