// Whether the picked data can train the run's model, asked of the model's family (input
// element count and classes). Apart from local-data.ts because the families bring TF.js,
// which reading files does not need.

import type { ModelSpec } from '../../../src/protocol/messages.js';
import { familyOf } from '../../../src/model/families/index.js';
import type { LocalData } from './local-data.js';

/** Why this data cannot train `model`, or null when it fits the run's input schema. */
export function schemaMismatch(data: LocalData, model: ModelSpec): string | null {
  // Element counts are compared, not shapes: rows are row-major pixels (height, width,
  // channel), as MNIST's own 784-vectors are, so a run whose model takes [784] fits 28×28
  // grayscale images.
  const io = familyOf(model).io(model);
  const inputs = io.inputShape.reduce((a, b) => a * b, 1);
  if (inputs !== data.features) {
    const shape = `shape [${io.inputShape.join(', ')}]`;
    if (data.inputShape.length > 1) return `the run's model takes ${inputs} inputs (${shape}); these images are ${data.inputShape.join('×')} = ${data.features}`;
    return `the run's model takes ${inputs} input features (${shape}) but this data has ${data.features}`;
  }
  if (data.classes > io.classes) return `the run's model has ${io.classes} classes but this data has labels up to ${data.classes - 1}`;
  return null;
}
