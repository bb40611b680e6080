// Whether the picked data can train the run's model, asked of the model's family (input
// element count, ids or feature values, classes). Apart from local-data.ts because the
// families bring TF.js, which reading files does not need.

import type { ModelSpec } from '../../../src/protocol/messages.js';
import { familyOf } from '../../../src/model/families/index.js';
import type { ModelIO } from '../../../src/model/families/index.js';
import type { LocalData } from './local-data.js';

/** The part of a model's input contract the page checks data against (the family's ModelIO, as /v1/join/context gives it). */
export type InputContract = Pick<ModelIO, 'inputShape' | 'input' | 'classes' | 'vocabulary'> & { family: string };

/**
 * Why this data cannot train a model with `io`, or null when it fits. The only id data this
 * page reads is a ratings file, so a model that reads ids is told apart by that.
 */
export function inputMismatch(data: LocalData, io: InputContract): string | null {
  // Element counts are compared, not shapes: rows are row-major pixels (height, width,
  // channel), as MNIST's own 784-vectors are, so a run whose model takes [784] fits 28×28
  // grayscale images.
  const inputs = io.inputShape.reduce((a, b) => a * b, 1);
  if (io.input === 'ids' && !data.ratings) {
    return `the run's ${io.family} model reads integer ids (below ${io.vocabulary}), not feature values: ${data.inputShape.length > 1 ? 'images' : 'a CSV of features'} cannot train it${inputs === 2 ? '; for a recommendation run pick a ratings file (user,item,rating)' : ''}`;
  }
  if (io.input !== 'ids' && data.ratings) {
    return `a ratings file trains recommendation (matrix factorisation) runs, whose model reads user and item ids; the run's ${io.family} model takes ${inputs} feature values per example`;
  }
  if (inputs !== data.features) {
    const shape = `shape [${io.inputShape.join(', ')}]`;
    if (data.inputShape.length > 1) return `the run's model takes ${inputs} inputs (${shape}); these images are ${data.inputShape.join('×')} = ${data.features}`;
    return `the run's model takes ${inputs} input features (${shape}) but this data has ${data.features}`;
  }
  if (data.ratings && io.vocabulary !== undefined && data.ratings.vocabulary > io.vocabulary) {
    return `the run's ${io.family} model has ${io.vocabulary} items (ids 0–${io.vocabulary - 1}), but this ratings file has item ids up to ${data.ratings.vocabulary - 1}`;
  }
  if (data.classes > io.classes) {
    if (data.ratings) return `the run's ${io.family} model rates up to ${io.classes - 1} stars, but this ratings file has ratings up to ${data.classes - 1}`;
    return `the run's model has ${io.classes} classes but this data has labels up to ${data.classes - 1}`;
  }
  return null;
}

/** Why this data cannot train `model`, or null when it fits the run's input schema. */
export function schemaMismatch(data: LocalData, model: ModelSpec): string | null {
  return inputMismatch(data, { family: model.family, ...familyOf(model).io(model) });
}
