// Hierarchical aggregation as a run extension: a run with `hierarchicalAggregation: { shards,
// minGroupSize }`, on a coordinator started with --nats, has each round's weighted mean of
// updates computed by shard aggregators over NATS JetStream (distributed/master-aggregator.ts)
// instead of in this process; the strategy then aggregates that one mean, as it does the
// secure sum. Only strategies that aggregate a weighted sum can be split this way; stages that
// must see each update (validation, the clipping of differential privacy) and secure
// aggregation (per shard group, not built yet) are refused, naming each.

import { MasterAggregator } from '../distributed/master-aggregator.js';
import { makeParameters } from '../protocol/tensors.js';
import { aggregateMetrics, checkTrainResults, totalExamples } from '../strategies/common.js';
import type { Problem } from '../protocol/problems.js';
import type { RunExtension } from './run-compiler.js';

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
      if (config.differentialPrivacy) problems.push({ path: 'differentialPrivacy', message: 'differential privacy with hierarchical aggregation needs clipping in the shards, which is not built yet' });
      if (config.secureAggregation) problems.push({ path: 'secureAggregation', message: 'secure aggregation per shard group is not built yet' });
      return problems;
    },
    stages(run) {
      const { shards, minGroupSize } = run.config.hierarchicalAggregation!;
      return {
        async aggregateUpdates({ round, current, results, signal }) {
          checkTrainResults(current, results); // what the strategy would check, before anything leaves
          if (totalExamples(results) === 0) {
            // Nothing to weigh: the strategy's own answer for that (no new model).
            return { mean: { memberId: 'hierarchical-mean', parameters: current, numExamples: 0, metrics: {} }, metrics: aggregateMetrics(results) };
          }
          const master = await MasterAggregator.open({ servers: options.nats, shards, minGroupSize, partialTimeoutMs: options.partialTimeoutMs ?? run.config.roundDeadlineSeconds * 1000 });
          try {
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
