// `concord plan`: who does how much work, as a linear (or mixed-integer) program solved by
// HiGHS over the members' declared resources (plan-action.ts).

import { InvalidArgumentError, type Command } from 'commander';
import { PLAN_OBJECTIVES } from '../planning/constants.js';
import { lazyAction, parseNumberOption } from './options.js';

const actions = () => import('./plan-action.js');

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
    .action(lazyAction(actions, 'planResources'));
}
