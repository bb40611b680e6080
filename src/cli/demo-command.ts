// `concord demo` (what `npm start` runs): a whole consortium on this machine, on real data
// (demo-action.ts).

import type { Command } from 'commander';
import { DEMO_DEFAULTS, DEMO_DP_ROUNDS } from '../demo/options.js';
import { ANALYTICS_DEMO, DEMO_TASKS, DEMO_TASK_NAMES } from '../demo/tasks.js';
import { lazyAction, parseIntOption, parseNumberOption } from './options.js';

const actions = () => import('./demo-action.js');

export function registerDemoCommand(program: Command): void {
  const d = DEMO_DEFAULTS;
  program
    .command('demo')
    .description('run a local consortium: a coordinator and member processes federating on real data; ends with a summary table on stderr and one JSON summary line on stdout')
    .option('--task <name>', `what to learn: ${DEMO_TASK_NAMES.map((n) => `${n} (${DEMO_TASKS[n]!.description})`).join('; ')}; or ${ANALYTICS_DEMO.name} (${ANALYTICS_DEMO.description})`, d.task)
    .option('--members <n>', 'member organizations', parseIntOption('--members'), d.members)
    .option('--rounds <n>', "federated rounds (default: the task's)", parseIntOption('--rounds'))
    .option('--partition <kind>', 'iid | dirichlet | shards', d.partition)
    .option('--alpha <α>', 'Dirichlet concentration (smaller = more skewed)', parseNumberOption('--alpha'), d.alpha)
    .option('--strategy <name>', 'fedavg | fedprox | fedavgm | fedadam | fedyogi | fedadagrad | fedmedian | fedtrimmedavg | krum | multikrum | fedavg-normbound', d.strategy)
    .option('--epochs <n>', "local epochs per round (default: the task's)", parseIntOption('--epochs'))
    .option('--batch-size <n>', "local batch size (default: the task's)", parseIntOption('--batch-size'))
    .option('--learning-rate <lr>', "local learning rate (default: the task's)", parseNumberOption('--learning-rate'))
    .option('--seed <n>', 'seed for partitions, initial weights and selection', parseIntOption('--seed'), d.seed)
    .option('--secure', 'secure aggregation (SecAgg+): the coordinator only sees the sum of updates')
    .option('--dp', 'differential privacy: DP-SGD inside every member, with a per-dataset ε budget')
    .option('--noise-multiplier <z>', "the least DP-SGD noise multiplier; each member's own is calibrated to spend its budget over the run", parseNumberOption('--noise-multiplier'), d.noiseMultiplier)
    .option('--clipping-norm <C>', 'DP-SGD per-example clipping norm', parseNumberOption('--clipping-norm'), d.clippingNorm)
    .option('--dp-epochs <n>', 'local epochs per round under DP-SGD (each one spends ε)', parseIntOption('--dp-epochs'), d.dpEpochs)
    .option('--dp-rounds <n>', `rounds of the private run under DP-SGD (default: --rounds when given, else ${DEMO_DP_ROUNDS}; the run without privacy keeps the task's)`, parseIntOption('--dp-rounds'))
    .option('--dp-learning-rate <lr>', 'learning rate under DP-SGD', parseNumberOption('--dp-learning-rate'), d.dpLearningRate)
    .option('--dp-batch-size <n>', 'DP-SGD lot size (larger: less noise per example at the same ε)', parseIntOption('--dp-batch-size'), d.dpBatchSize)
    .option('--dp-learning-rate-decay <f>', 'factor the DP-SGD learning rate falls by each round', parseNumberOption('--dp-learning-rate-decay'), d.dpLearningRateDecay)
    .option('--epsilon-budget <ε>', 'privacy budget of every member dataset (δ = 1e-5)', parseNumberOption('--epsilon-budget'), d.epsilonBudget)
    .option('--no-baseline', 'skip the centralized baseline')
    .option('--dir <dir>', 'where the demo keeps its database and logs (wiped first)', d.dir)
    .option('--quiet', 'print only the JSON summary')
    .option('--no-keep', 'exit when done, even on a terminal (by default the coordinator and dashboard stay up until Ctrl-C there)')
    .action(lazyAction(actions, 'demo'));
}
