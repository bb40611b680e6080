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
    .option('--method <method>', `${VALUATION_METHODS.join(' | ')} (auto: exact up to 10 members per round, Monte Carlo beyond)`, 'auto')
    .option('--reward-pool <amount>', 'divide this reward in proportion to positive contributions', parseNumberOption('--reward-pool'))
    .option('--permutations <n>', 'Monte Carlo permutations per round (default 100)', parseIntOption('--permutations'))
    .option('--truncation <fraction>', 'Monte Carlo: stop a permutation once its prefix is within this fraction of the round\'s full value (TMC); default 0, unbiased', parseNumberOption('--truncation'))
    .option('--last-rounds <n>', 'value only the last N rounds (default: all)', parseIntOption('--last-rounds'));

export function registerSharingCommands(program: Command): void {
  withSource(program.command('contributions'))
    .description("each member's contribution to a run (round-wise Shapley values of validation accuracy, from stored updates) and its share of a reward pool")
    .action(lazyAction(actions, 'contributions'));

  withSource(program.command('report'))
    .description('write a self-contained HTML report of a run: accuracy, plan and execution, privacy spent, contributions and benefit shares, energy and CO2')
    .requiredOption('--out <file>', 'HTML file to write')
    .option('--no-contributions', 'leave contributions out (they evaluate many models)')
    .action(lazyAction(actions, 'report'));
}
