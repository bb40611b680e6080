// Hierarchical aggregation as a run extension: a run with `hierarchicalAggregation: { shards,
// minGroupSize }`, on a coordinator started with --nats, has each round's weighted mean of
// updates computed by shard aggregators over NATS JetStream (distributed/master-aggregator.ts)
// instead of in this process; the strategy then aggregates that one mean, as it does the
// secure sum. Only strategies that aggregate a weighted sum can be split this way; update
// validation (it compares each update with the others) is refused. Differential privacy:
// sample level needs nothing of the shards; client level (central mode) sends the shards
// deltas, which they clip to C before summing, and the run's DP wrapper adds the noise once to
// the clipped total.
//
// With secure aggregation the round runs SecAgg+ per shard group (secure-round.ts, through
// openMaster here): the shards sum and unmask their group's masked vectors and the
// coordinator adds the groups' sums. Client-level DP is refused there: members would noise
// their updates for the whole round, but each group's sum, which its shard unmasks, would
// carry only its own members' share of that noise.

import { MasterAggregator } from '../distributed/master-aggregator.js';
import { DifferentiallyPrivateStrategy } from '../privacy/dp/dp-fedavg.js';
import type { Strategy } from '../strategies/strategy.js';
import { makeParameters } from '../protocol/tensors.js';
import { aggregateMetrics, checkTrainResults, totalExamples } from '../strategies/common.js';
import type { Problem } from '../protocol/problems.js';
import type { RunExtension } from './run-compiler.js';
import type { RunRecord } from '../storage/storage.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';

export interface HierarchicalAggregationOptions {
  /** NATS server(s) with JetStream where the shard aggregators listen. */
  nats: string;
  /** How long a round waits for every shard's partial. Default: the run's roundDeadlineSeconds. */
  partialTimeoutMs?: number;
}

export function hierarchicalAggregationExtension(options: HierarchicalAggregationOptions): RunExtension {
  return {
    field: 'hierarchicalAggregation',
    check(config, { base }) {
      const problems: Problem[] = [];
      if (base.traits.aggregates !== 'sum') {
        problems.push({ path: 'strategy.name', message: `${base.name} needs individual updates; hierarchical aggregation only splits a weighted sum (use fedavg, fedprox, fedavgm, fedadam, fedyogi or fedadagrad)` });
      }
      if (config.updateValidation) problems.push({ path: 'updateValidation', message: 'update validation compares each update with the others, which hierarchical aggregation sums in the shards' });
      const dp = config.differentialPrivacy;
      if (dp?.level === 'client') {
        if (dp.mode === 'distributed') problems.push({ path: 'differentialPrivacy.mode', message: 'with hierarchical aggregation client-level DP runs in central mode: the shards clip each update and the noise is added once, at the top' });
        if (dp.adaptiveClipping) problems.push({ path: 'differentialPrivacy.adaptiveClipping', message: 'adaptive clipping needs each update\'s norm, which the shards that clip them do not report; give a fixed clippingNorm' });
      }
      if (config.secureAggregation && config.hierarchicalAggregation!.minGroupSize < 2) {
        problems.push({ path: 'hierarchicalAggregation.minGroupSize', message: `is ${config.hierarchicalAggregation!.minGroupSize}; secure aggregation per shard group needs groups of at least 2 members, since a group's sum is unmasked (a group of one would reveal its member's update)` });
      }
      if (config.secureAggregation && dp?.level === 'client') {
        problems.push({ path: 'differentialPrivacy.level', message: 'client-level DP with secure aggregation per shard group is not supported: each group\'s sum, which its shard unmasks, would carry only its own members\' share of the noise; use sample-level DP, or drop secure aggregation to have the shards clip and the coordinator add the noise' });
      }
      return problems;
    },
    stages(run, strategy) {
      // Under secure aggregation the train phase itself is sharded (secure-round.ts); there are no plain updates to send.
      if (run.config.secureAggregation) return {};
      const dp = run.config.differentialPrivacy?.level === 'client' ? privateStrategyOf(strategy) : null;
      return {
        async aggregateUpdates({ round, current, results, signal }) {
          checkTrainResults(current, results); // what the strategy would check, before anything leaves
          if (!dp && totalExamples(results) === 0) {
            // Nothing to weigh: the strategy's own answer for that (no new model).
            return { mean: { memberId: 'hierarchical-mean', parameters: current, numExamples: 0, metrics: {} }, metrics: aggregateMetrics(results) };
          }
          const master = await openMaster(options, run);
          try {
            if (dp) {
              // Deltas from the round's model, each weighing 1: the shards clip and sum them.
              const outcome = await master.aggregate({
                runId: run.runId,
                round,
                updates: results.map((r) => ({ memberId: r.memberId, weight: 1, data: r.parameters.data.map((v, i) => v - current.data[i]!) })),
                clippingNorm: dp.currentClippingNorm,
                signal,
              });
              const metrics = { ...aggregateMetrics(results), shards: outcome.groups.length };
              return { aggregate: dp.aggregateClippedSum(round, current, { clippedSum: outcome.weightedSum, members: outcome.totalWeight, metrics }), metrics };
            }
            const outcome = await master.aggregate({
              runId: run.runId,
              round,
              updates: results.map((r) => ({ memberId: r.memberId, weight: r.numExamples, data: r.parameters.data })),
              signal,
            });
            return {
              mean: { memberId: 'hierarchical-mean', parameters: makeParameters(current.specs, outcome.average), numExamples: outcome.totalWeight, metrics: {} },
              // The strategy saw one synthetic result; the round's metrics are the real members'.
              metrics: { ...aggregateMetrics(results), shards: outcome.groups.length },
            };
          } finally {
            await master.close();
          }
        },
      };
    },
  };
}

/** The round owner's link to the run's shard aggregators. */
export function openMaster(options: HierarchicalAggregationOptions, run: RunRecord): Promise<MasterAggregator> {
  const { shards, minGroupSize } = run.config.hierarchicalAggregation!;
  return MasterAggregator.open({ servers: options.nats, shards, minGroupSize, partialTimeoutMs: options.partialTimeoutMs ?? run.config.roundDeadlineSeconds * 1000 });
}

/** The run's DP-FedAvg wrapper, wherever it sits among the strategy's wrappers. */
function privateStrategyOf(strategy: Strategy): DifferentiallyPrivateStrategy {
  for (let s: Strategy | undefined = strategy; s; s = s.inner) if (s instanceof DifferentiallyPrivateStrategy) return s;
  throw new ConcordError(ErrorCode.INTERNAL, 'a client-level DP run without its DP-FedAvg wrapper');
}
