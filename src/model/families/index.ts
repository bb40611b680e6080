// The model-family registry: a run's `model.family` names one of these. Everything that
// builds, trains, exports or checks a model asks the registry what the family does.

import type * as tf from '@tensorflow/tfjs';
import { ConcordError, ErrorCode } from '../../protocol/errors.js';
import type { ModelFamilyName, ModelSpec, SpecOf } from '../../protocol/messages.js';
import { cnnFamily } from './cnn.js';
import type { ModelFamily } from './family.js';
import { layersFamily } from './layers.js';
import { mfFamily } from './mf.js';
import { mlpFamily } from './mlp.js';
import { textFamily } from './text.js';
import { transformerFamily } from './transformer.js';

export type { BrowserBackend, FamilySupport, LayerSummary, LocalLearner, ModelFamily, ModelIO } from './family.js';
export { LOGITS_LAYER } from './family.js';

const FAMILIES: { [F in ModelFamilyName]?: ModelFamily<SpecOf<F>> } = {
  mlp: mlpFamily,
  cnn: cnnFamily,
  text: textFamily,
  transformer: transformerFamily,
  mf: mfFamily,
  layers: layersFamily,
};

export function familyOf<S extends ModelSpec>(spec: S): ModelFamily<S> {
  const family = FAMILIES[spec.family] as ModelFamily<S> | undefined;
  if (!family) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `model family ${spec.family} is not available in this build; available: ${Object.keys(FAMILIES).join(', ')}`, {
      details: { field: 'model.family', expected: Object.keys(FAMILIES), received: spec.family },
    });
  }
  return family;
}

/** The batch as the model's input(s): the family's own mapping, else the rows reshaped. */
export function feed(spec: ModelSpec, x: tf.Tensor): tf.Tensor | tf.Tensor[] {
  return familyOf(spec).feed?.(spec, x) ?? x;
}
