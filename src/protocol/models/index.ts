// The model-family specs a run configuration may name, one module each. The model layer
// (src/model/families/) has one implementation per spec; adding a family adds one module
// on each side and one line to each registry.

import { z } from 'zod';
import { CnnSpecSchema } from './cnn.js';
import { LayersSpecSchema } from './layers.js';
import { MfSpecSchema } from './mf.js';
import { MlpSpecSchema } from './mlp.js';
import { TextSpecSchema } from './text.js';
import { TransformerSpecSchema } from './transformer.js';

export const ModelSpecSchema = z
  .discriminatedUnion('family', [MlpSpecSchema, CnnSpecSchema, TextSpecSchema, TransformerSpecSchema, MfSpecSchema, LayersSpecSchema])
  // Rules across fields of one family (a discriminated union's options must stay plain objects).
  .superRefine((spec, ctx) => {
    if (spec.family === 'transformer' && spec.embeddingDim % spec.heads !== 0) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['heads'], message: `embeddingDim ${spec.embeddingDim} must be a multiple of heads (${spec.heads})` });
    }
  });
export type ModelSpec = z.output<typeof ModelSpecSchema>;
export type ModelFamilyName = ModelSpec['family'];
export type SpecOf<F extends ModelFamilyName> = Extract<ModelSpec, { family: F }>;

export const MODEL_FAMILY_NAMES = ['mlp', 'cnn', 'text', 'transformer', 'mf', 'layers'] as const satisfies readonly ModelFamilyName[];

export type { CnnSpec } from './cnn.js';
export type { LayersSpec } from './layers.js';
export type { MfSpec } from './mf.js';
export type { MlpSpec } from './mlp.js';
export type { TextSpec } from './text.js';
export type { TransformerSpec } from './transformer.js';
