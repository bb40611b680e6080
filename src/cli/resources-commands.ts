// `concord resources set` (a member declares its compute, signed with its own key) and
// `concord resources show` (the consortium's declarations, ready for `concord plan`);
// resources-actions.ts does the work.

import type { Command } from 'commander';
import { lazyAction, parseNumberOption } from './options.js';
import { withConn } from './run-commands.js';

const actions = () => import('./resources-actions.js');

export function registerResourcesCommands(program: Command): void {
  const resources = program.command('resources').description("members' declared compute resources, the input of resource planning");

  resources
    .command('set')
    .description("declare this member's resources to the coordinator, signed with the member node's key")
    .option('--coordinator <url>', 'coordinator URL (or $CONCORD_COORDINATOR)')
    .requiredOption('--name <name>', 'the member (as enrolled by `concord node --name`)')
    .option('--state-dir <dir>', "the member node's state directory (identity and enrollment)", '.concord/nodes')
    .option('--ca <file>', "PEM of the coordinator's CA to pin for HTTPS (or $CONCORD_CA)")
    .option('--capacity <units>', 'R_i: most units of work (e.g. sample-epochs) per planning period', parseNumberOption('--capacity'))
    .option('--unlimited', 'declare no capacity limit instead of --capacity')
    .requiredOption('--efficiency <f>', 'f_i in (0, 1]: the share of a unit of work that counts as effective compute', parseNumberOption('--efficiency'))
    .option('--cost-per-unit <cost>', 'price of one unit of work', parseNumberOption('--cost-per-unit'))
    .option('--availability <share>', 'largest share of its capacity the consortium may use, in [0, 1]', parseNumberOption('--availability'))
    .option('--carbon-intensity <g>', 'grid carbon intensity, gCO2/kWh (default 475)', parseNumberOption('--carbon-intensity'))
    .option('--power-watts <W>', 'power draw while working', parseNumberOption('--power-watts'))
    .option('--units-per-hour <n>', 'units of work per hour while working', parseNumberOption('--units-per-hour'))
    .option('--json', 'machine-readable output')
    .action(lazyAction(actions, 'resourcesSet'));

  withConn(resources.command('show'))
    .description("the consortium's declared resources as a resources document (use with `concord plan --resources`)")
    .action(lazyAction(actions, 'resourcesShow'));
}
