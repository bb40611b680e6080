// `concord data images`: a member's data as a folder of labelled PNG images, for trying the
// browser member at /join with real examples (it reads exactly this layout); `concord data
// ratings` likewise writes a member's ratings as the CSV (user,item,rating) it reads for
// recommendation runs. `concord data hospitals` writes the multi-site tabular demo data; `concord data validate` checks a file
// against the consortium data schema.

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
  data
    .command('ratings')
    .description("write a member's ratings (training and holdout) as a CSV user,item,rating, the file the browser member at /join and ratings:file=… read")
    .requiredOption('--data <spec>', 'data SPEC of ratings, e.g. ratings:member=0,members=5,partition=source')
    .requiredOption('--out <file>', 'output CSV file')
    .option('--json', 'machine-readable output')
    .action(lazyAction(actions, 'dataRatings'));
  data
    .command('hospitals')
    .description('write the N-site cardiovascular demo data (data/hospitals.ts): each site in its own column order, units, spellings and file format, with the consortium schema (schema.json) they all validate against')
    .requiredOption('--out <dir>', 'output folder')
    .option('--sites <n>', 'number of sites (default 3)', '3')
    .option('--seed <n>', 'generator seed (default 12)', '12')
    .option('--json', 'machine-readable output')
    .action(lazyAction(actions, 'dataHospitals'));
  data
    .command('validate')
    .description("check a member's local file against the consortium data schema: every problem with file, row, column, value and expectation; prints only the descriptor (names, types, counts)")
    .requiredOption('--schema <file>', 'the data schema (YAML or JSON)')
    .argument('<files...>', 'CSV, Parquet (.parquet) or Arrow (.arrow, .feather) files')
    .option('--json', 'machine-readable output')
    .action(lazyAction(actions, 'dataValidate'));
}
