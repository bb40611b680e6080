// `concord simulate`: thousands of virtual members on this machine, without a process per
// member (src/simulation/simulate.ts); per-round lines, then one JSON summary line on stdout.

import type { Command } from 'commander';
import { SIMULATE_DEFAULTS } from '../simulation/options.js';
import { lazyAction, parseIntOption, parseJsonObjectOption, parseNumberOption } from './options.js';

const actions = () => import('./simulate-action.js');

export function registerSimulateCommand(program: Command): void {
  const d = SIMULATE_DEFAULTS;
  program
    .command('simulate')
    .description('simulate a consortium of many virtual members (MNIST digits, an MLP) with the real coordinator, database and dashboard; members train in worker threads')
    .option('--members <n>', 'virtual members in the population', parseIntOption('--members'), d.members)
    .option('--rounds <n>', 'federated rounds', parseIntOption('--rounds'), d.rounds)
    .option('--fraction <f>', 'fraction of the population that trains each round', parseNumberOption('--fraction'), d.fraction)
    .option('--evaluate-fraction <f>', 'fraction that evaluates each round on its holdout', parseNumberOption('--evaluate-fraction'), d.evaluateFraction)
    .option('--epochs <n>', 'local epochs per round', parseIntOption('--epochs'), d.epochs)
    .option('--batch-size <n>', 'local batch size', parseIntOption('--batch-size'), d.batchSize)
    .option('--learning-rate <lr>', 'local learning rate', parseNumberOption('--learning-rate'), d.learningRate)
    .option('--strategy <name>', 'fedavg | fedprox | fedavgm | fedadam | fedyogi | fedadagrad | fedmedian | fedtrimmedavg | krum | multikrum | fedavg-normbound | fedbuff (asynchronous)', d.strategy)
    .option('--workers <n>', 'worker threads that train members (0: this thread)', parseIntOption('--workers'), d.workers)
    .option('--secure', 'secure aggregation (SecAgg+) among each round\'s members')
    .option('--seed <n>', "seed of members' shares, initial weights and selection", parseIntOption('--seed'), d.seed)
    .option('--alpha <α>', "Dirichlet concentration of each member's label mix", parseNumberOption('--alpha'), d.alpha)
    .option('--min-examples <n>', 'fewest digits a member holds', parseIntOption('--min-examples'), d.minExamples)
    .option('--max-examples <n>', 'most digits a member holds', parseIntOption('--max-examples'), d.maxExamples)
    .option('--max-kept <n>', 'with --secure: members whose state each thread keeps between stages', parseIntOption('--max-kept'), d.maxKept)
    .option('--strategy-options <json>', 'the strategy\'s options as JSON, e.g. \'{"bufferSize": 10, "concurrency": 50}\' for fedbuff', parseJsonObjectOption('--strategy-options'))
    .option('--differential-privacy <json>', 'the run\'s differentialPrivacy block as JSON, e.g. \'{"level": "client", "noiseMultiplier": 1, "clippingNorm": 0.5, "budget": {"epsilon": 8, "delta": 1e-5}}\'', parseJsonObjectOption('--differential-privacy'))
    .option('--device-seconds <s>', 'simulated device time: each answer is held until this long after its task started (0: none)', parseNumberOption('--device-seconds'))
    .option('--slow-fraction <f>', 'with --device-seconds: this share of members is slow', parseNumberOption('--slow-fraction'))
    .option('--slow-factor <k>', 'with --device-seconds: slow members take this many times longer (default 5)', parseNumberOption('--slow-factor'))
    .option('--nats <url>', 'with --shards: NATS server with JetStream where `concord aggregator` shards listen')
    .option('--shards <n>', 'sum each round\'s updates in this many shard aggregators (hierarchical aggregation)', parseIntOption('--shards'))
    .option('--min-group-size <n>', 'with --shards: fewest members one shard may sum (at least 2 with --secure, which then runs per shard group)', parseIntOption('--min-group-size'))
    .option('--dir <dir>', 'where the simulation keeps its database (wiped first)', d.dir)
    .option('--port <n>', 'port of its coordinator and dashboard (0: a free one)', parseIntOption('--port'), d.port)
    .option('--quiet', 'print only the JSON summary')
    .action(lazyAction(actions, 'simulateAction'));
}
