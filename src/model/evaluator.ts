// Accuracy of many parameter vectors on one fixed dataset, as contribution valuation needs
// (one model per coalition and round). Keeps its own TF.js model per architecture, apart
// from any model the caller trains or evaluates, and runs one evaluation at a time, so
// concurrent callers never see each other's weights.

import type { Dataset } from '../data/dataset.js';
import type { ModelSpec } from '../protocol/messages.js';
import type { Parameters } from '../protocol/tensors.js';
import { buildModel } from './build.js';
import { evaluate } from './train.js';
import { setParameters } from './weights.js';

export type AccuracyEvaluator = (spec: ModelSpec, parameters: Parameters) => Promise<number>;

export function createAccuracyEvaluator(data: Dataset): AccuracyEvaluator {
  const models = new Map<string, ReturnType<typeof buildModel>>();
  let queue: Promise<unknown> = Promise.resolve();
  return (spec, parameters) => {
    const run = async (): Promise<number> => {
      const key = JSON.stringify(spec);
      let model = models.get(key);
      if (!model) models.set(key, (model = buildModel(spec, 0)));
      setParameters(model, parameters);
      return (await evaluate(model, data)).accuracy;
    };
    const result = queue.then(run, run);
    queue = result.catch(() => undefined);
    return result;
  };
}
