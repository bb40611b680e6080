// A model a team already has, given as a standard TF.js Layers topology (the `modelTopology`
// of a model.json, as tfjs and the Keras converter write it). Only supported layers are
// accepted, which src/model/families/layers.ts checks when the run is compiled.

import { z } from 'zod';

export const LayersSpecSchema = z
  .object({
    family: z.literal('layers'),
    /** {class_name, config} of a Sequential or functional Model, or the model.json object holding it under model_config. */
    modelTopology: z.record(z.unknown()),
  })
  .strict();
export type LayersSpec = z.output<typeof LayersSpecSchema>;
