// `concord contributions` (each member's contribution to a run and its benefit share) and
// `concord report` (the run's self-contained HTML report). Both read from a running
// coordinator (operator API) or, with --db, straight from its database; offline,
// contributions need the validation set named with --eval-data. sharing-actions.ts does the work.

import type { Command } from 'commander';
import { VALUATION_METHODS } from '../valuation/methods.js';
import { lazyAction, parseIntOption, parseNumberOption } from './options.js';
import { withConn } from './run-commands.js';

const actions = () => import('./sharing-actions.js');

const withSource = (c: Command): Command =>
  withConn(c)
    .requiredOption('--run <id>', 'run id')
    .option('--db <path>', "read the coordinator's database instead of asking the coordinator")
    .option('--eval-data <spec>', 'with --db: the validation set contributions are measured on, e.g. mnist:test,test=1000 (the coordinator uses its --eval-data)')
    .option('--method <method>', `${VALUATION_METHODS.join(' | ')} (default: the agreement's valuation.method, else final-model; auto, exact, monte-carlo, loo and gtg are round-wise; retrain needs the members' data, see docs/sharing.md)`)
    .option('--bootstrap <n>', 'bootstrap resamples of the validation set behind each 95 % interval (default: the agreement\'s, else 200)', parseIntOption('--bootstrap'))
    .option('--reward-pool <amount>', 'divide this reward in proportion to positive contributions', parseNumberOption('--reward-pool'))
    .option('--permutations <n>', 'Monte Carlo permutations per round (default 100)', parseIntOption('--permutations'))
    .option('--truncation <fraction>', 'Monte Carlo: stop a permutation once its prefix is within this fraction of the round\'s full value (TMC); default 0, unbiased', parseNumberOption('--truncation'))
    .option('--last-rounds <n>', 'value only the last N rounds (default: all)', parseIntOption('--last-rounds'));

export function registerSharingCommands(program: Command): void {
  withSource(program.command('contributions'))
    .description("each member's contribution to a run (Shapley values of validation accuracy from stored updates, with 95 % intervals) and its share of a reward pool")
    .action(lazyAction(actions, 'contributions'));

  withSource(program.command('report'))
    .description('write a self-contained HTML report of a run: accuracy, plan and execution, privacy spent, contributions and benefit shares, energy and CO2')
    .requiredOption('--out <file>', 'HTML file to write')
    .option('--no-contributions', 'leave contributions out (they evaluate many models)')
    .action(lazyAction(actions, 'report'));
}
