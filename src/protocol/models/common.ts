// Pieces the model-family specs share. A spec describes a model, it never ships code: every
// party builds the same layers from it (src/model/families/). Unknown keys are refused.

import { z } from 'zod';

export const positiveInt = (max: number) => z.number().int().min(1).max(max);
export const fraction = z.number().finite().min(0).lt(1);
export const activation = z.enum(['relu', 'tanh', 'sigmoid', 'linear']);
/** Classes of a classifier: its last layer has one logit per class. */
export const classes = z.number().int().min(2).max(100_000);
/** L2 weight decay λ on kernels, added to the training loss as λ·Σw². */
export const l2 = z.number().finite().min(0).max(1).default(0);
