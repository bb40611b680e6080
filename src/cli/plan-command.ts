// `concord plan`: who does how much work, as a linear (or mixed-integer) program solved by
// HiGHS over the members' declared resources.

import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError } from 'commander';
import { PLAN_OBJECTIVES, type PlanObjective } from '../planning/options.js';
import { solvePlan } from '../planning/plan.js';
import { parseResourcesJson } from '../planning/resources.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { fail, parseNumberOption } from './options.js';

/** `--fairness min-share=0.1` → 0.1 */
function parseFairness(value: string): number {
  const match = value.match(/^min-share=(.+)$/);
  const share = match ? Number(match[1]) : NaN;
  if (!Number.isFinite(share)) throw new InvalidArgumentError(`--fairness must look like min-share=0.1, got ${JSON.stringify(value)}`);
  return share;
}

export function registerPlanCommand(program: Command): void {
  program
    .command('plan')
    .description('plan who does how much work: an LP/MIP over declared resources (capacity R_i, efficiency f_i, cost, availability, carbon) solved by HiGHS')
    .requiredOption('--resources <file>', 'resources JSON: {"members": [{"name", "capacity", "efficiency", "costPerUnit"?, "availability"?, "carbonIntensity"?, "powerWatts"?, "unitsPerHour"?}]}')
    .option('--objective <objective>', PLAN_OBJECTIVES.join(' | '), 'max-compute')
    .option('--demand <units>', 'effective compute the plan must deliver (required for min-cost, min-carbon, min-time)', parseNumberOption('--demand'))
    .option('--budget <amount>', 'upper bound on Σ cost_i R_i', parseNumberOption('--budget'))
    .option('--fairness <rule>', 'min-share=S: every member does at least S of the total work', parseFairness)
    .option('--integer', 'whole units of work (mixed-integer program)')
    .option('--json', 'machine-readable output')
    .action(async (opts: { resources: string; objective: string; demand?: number; budget?: number; fairness?: number; integer?: boolean; json?: boolean }) => {
      try {
        if (!(PLAN_OBJECTIVES as readonly string[]).includes(opts.objective)) {
          throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `--objective must be one of ${PLAN_OBJECTIVES.join(', ')}, got ${JSON.stringify(opts.objective)}`, {
            details: { field: '--objective', expected: PLAN_OBJECTIVES, received: opts.objective },
          });
        }
        let text: string;
        try {
          text = await readFile(opts.resources, 'utf8');
        } catch (cause) {
          throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `cannot read resources file ${opts.resources}`, { details: { field: '--resources' }, cause });
        }
        const plan = await solvePlan(parseResourcesJson(text), {
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
      } catch (error) {
        fail(error, Boolean(opts.json));
      }
    });
}
