// A text classifier on token ids: an embedding, then an LSTM, a GRU or a 1-D convolution
// with global max pooling, then Dense layers. Tokens come from the consortium's agreed
// tokenizer (data/), which maps text to ids in [0, vocabSize), 0 being padding.

import { z } from 'zod';
import { classes, fraction, l2, positiveInt } from './common.js';

export const TextEncoderSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('lstm'), units: positiveInt(4096) }).strict(),
  z.object({ type: z.literal('gru'), units: positiveInt(4096) }).strict(),
  z.object({ type: z.literal('conv1d'), filters: positiveInt(4096), kernelSize: positiveInt(32).default(5) }).strict(),
]);

export const TextSpecSchema = z
  .object({
    family: z.literal('text'),
    vocabSize: z.number().int().min(2).max(1_048_576),
    sequenceLength: positiveInt(4096),
    embeddingDim: positiveInt(1024),
    encoder: TextEncoderSchema,
    dense: z.array(positiveInt(65_536)).max(8).default([]),
    dropout: fraction.default(0),
    classes,
    l2,
  })
  .strict();
export type TextSpec = z.output<typeof TextSpecSchema>;
