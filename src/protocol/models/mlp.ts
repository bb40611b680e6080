// A multi-layer perceptron: Dense layers on the flattened input.

import { z } from 'zod';
import { activation, classes, fraction, positiveInt } from './common.js';

export const MlpSpecSchema = z
  .object({
    family: z.literal('mlp'),
    inputShape: z.array(z.number().int().positive()).min(1).max(4),
    hidden: z.array(positiveInt(65_536)).max(16).default([]),
    classes,
    activation: activation.exclude(['linear']).default('relu'),
    // Optional rather than defaulted, so that specs written before these existed stay what they were.
    /** Dropout rate after each hidden layer during training; none by default. */
    dropout: fraction.optional(),
    /** Batch normalisation after each hidden layer (its moving statistics are averaged like weights); off by default. */
    batchNorm: z.boolean().optional(),
    /** L2 weight decay λ on kernels; 0 by default. */
    l2: z.number().finite().min(0).max(1).optional(),
  })
  .strict();
export type MlpSpec = z.output<typeof MlpSpecSchema>;
