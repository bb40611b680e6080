// `concord data images`: a member's data as a folder of labelled PNG images, for trying the
// browser member at /join with real examples (it reads exactly this layout).

import type { Command } from 'commander';
import { lazyAction } from './options.js';

const actions = () => import('./data-actions.js');

export function registerDataCommands(program: Command): void {
  const data = program.command('data').description('work with the data a member holds');
  data
    .command('images')
    .description("write a member's examples (training and holdout) as OUT/<label>/<n>.png, the folder layout the browser member at /join reads")
    .requiredOption('--data <spec>', 'data SPEC, e.g. mnist:member=0,members=5,partition=dirichlet,seed=7')
    .requiredOption('--out <dir>', 'output folder (one subfolder per class)')
    .option('--json', 'machine-readable output')
    .action(lazyAction(actions, 'dataImages'));
}
