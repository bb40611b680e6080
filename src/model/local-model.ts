// A member's model for one spec, whatever its family: set the round's global parameters,
// train on local data, evaluate on the holdout. Most families train their TF.js model as a
// whole (train.ts, dp-train.ts); a family with a learner of its own (matrix factorisation,
// which keeps each user's factors here) trains through it. One instance per spec lives as
// long as the member, so such local state survives from round to round.

import type { Dataset } from '../data/dataset.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { ModelSpec, TrainConfig } from '../protocol/messages.js';
import type { Parameters } from '../protocol/tensors.js';
import { buildModel } from './build.js';
import { familyOf } from './families/index.js';
import { type TrainOptions, evaluate, trainLocal } from './train.js';
import { getParameters, setParameters } from './weights.js';

export interface LocalTraining {
  parameters: Parameters;
  numExamples: number;
  metrics: Record<string, number>;
  /** Examples passed through the model over all epochs (units of work). */
  examplesProcessed: number;
}

export interface LocalModel {
  train(global: Parameters, data: Dataset, config: TrainConfig, options?: TrainOptions): Promise<LocalTraining>;
  /** Metrics include `loss`; classifiers report `accuracy`, regressions `rmse`. */
  evaluate(global: Parameters, data: Dataset): Promise<{ numExamples: number; metrics: Record<string, number> }>;
}

export function createLocalModel(spec: ModelSpec): LocalModel {
  const learner = familyOf(spec).learner?.(spec);
  if (learner) {
    return {
      async train(global, data, config, options = {}) {
        if (options.dpSgd) {
          const reason = familyOf(spec).support(spec).dpSgd;
          throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `DP-SGD: ${reason === true ? 'not available' : reason.reason}`, { details: { field: 'config.privacy' } });
        }
        const out = await learner.train(global, data, config);
        return { ...out, examplesProcessed: out.numExamples * config.epochs };
      },
      async evaluate(global, data) {
        const out = await learner.evaluate(global, data);
        return { numExamples: out.numExamples, metrics: { ...out.metrics, loss: out.loss } };
      },
    };
  }
  const model = buildModel(spec, 0);
  return {
    async train(global, data, config, options = {}) {
      setParameters(model, global);
      const result = await trainLocal(model, data, config, { globalParameters: global, ...options });
      return { parameters: getParameters(model), numExamples: result.numExamples, metrics: { ...result.metrics }, examplesProcessed: result.examplesProcessed ?? result.numExamples * config.epochs };
    },
    async evaluate(global, data) {
      setParameters(model, global);
      const result = await evaluate(model, data);
      return { numExamples: result.numExamples, metrics: { loss: result.loss, accuracy: result.accuracy } };
    },
  };
}
