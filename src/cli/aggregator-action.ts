// What `concord aggregator` does (aggregator-command.ts): serve one shard until SIGINT/SIGTERM.

import { runShardAggregator, type ShardEvent } from '../distributed/shard-aggregator.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';

export async function runAggregator(opts: { nats: string; shard: number; ackWait: number; json?: boolean }): Promise<void> {
  if (opts.shard < 0) throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `--shard is ${opts.shard}; expected 0 or more`, { details: { field: 'shard', expected: '>= 0', received: opts.shard } });
  if (opts.ackWait < 100) throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `--ack-wait is ${opts.ackWait} ms; expected at least 100`, { details: { field: 'ackWait', expected: '>= 100', received: opts.ackWait } });
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  process.once('SIGTERM', () => abort.abort());
  const say = (e: ShardEvent | { event: 'stopped'; shard: number; partials: number }): void => {
    if (opts.json) process.stdout.write(`${JSON.stringify(e)}\n`);
    else if (e.event === 'ready') process.stdout.write(`shard ${e.shard}: waiting for updates\n`);
    else if (e.event === 'partial') process.stdout.write(`shard ${e.shard}: run ${e.runId} round ${e.round}: summed ${e.members} members (weight ${e.totalWeight})\n`);
    else if (e.event === 'dropped') process.stderr.write(`shard ${e.shard}: dropped a message: ${e.reason}\n`);
    else if (e.event === 'stopped') process.stdout.write(`shard ${e.shard}: stopped after ${e.partials} partials\n`);
  };
  const { partials } = await runShardAggregator({ servers: opts.nats, shard: opts.shard, ackWaitMs: opts.ackWait, signal: abort.signal, onEvent: say });
  say({ event: 'stopped', shard: opts.shard, partials });
  process.exit(0);
}
