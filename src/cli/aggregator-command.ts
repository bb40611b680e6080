// `concord aggregator`: one shard aggregator of hierarchical aggregation over NATS JetStream
// (distributed/shard-aggregator.ts). Run one per shard, on any host that reaches the NATS
// server; the round owner (distributed/master-aggregator.ts) deals the updates out.

import type { Command } from 'commander';
import { lazyAction, parseIntOption } from './options.js';

const actions = () => import('./aggregator-action.js');

export function registerAggregatorCommand(program: Command): void {
  program
    .command('aggregator')
    .description('run a shard aggregator: pull shard i\'s updates from NATS JetStream and publish its partial weighted sum each round (until SIGINT/SIGTERM)')
    .requiredOption('--nats <url>', 'NATS server(s) with JetStream, e.g. nats://127.0.0.1:4222 (comma-separated for a cluster)')
    .requiredOption('--shard <i>', 'the shard this process sums, 0 … shards−1', parseIntOption('--shard'))
    .option('--ack-wait <ms>', 'an update held this long without progress by a dead aggregator goes to another', parseIntOption('--ack-wait'), 30_000)
    .option('--json', 'one JSON line per event on stdout')
    .action(lazyAction(actions, 'runAggregator'));
}
