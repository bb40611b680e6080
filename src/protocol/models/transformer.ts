// A small transformer encoder for text classification (in the manner of BERT, Devlin et al.
// 2019): token and learned position embeddings, `layers` blocks of multi-head self-attention
// and a feed-forward network, each with a residual connection and layer normalisation, and
// the first position's output ([CLS], which the tokenizer puts first) as the sequence's
// representation.

import { z } from 'zod';
import { classes, fraction, l2, positiveInt } from './common.js';

export const TransformerSpecSchema = z
  .object({
    family: z.literal('transformer'),
    vocabSize: z.number().int().min(2).max(1_048_576),
    /** Positions per sequence, the [CLS] token's included. */
    sequenceLength: positiveInt(1024),
    embeddingDim: positiveInt(1024),
    heads: positiveInt(16),
    layers: positiveInt(8),
    feedForward: positiveInt(8192),
    dropout: fraction.default(0),
    classes,
    l2,
  })
  .strict();
export type TransformerSpec = z.output<typeof TransformerSpecSchema>;
