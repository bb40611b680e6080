// A convolutional image classifier: blocks of Conv2D (+ batch norm, max pooling, dropout),
// then Dense layers on the flattened features. The classic MNIST model is two 3×3
// convolutions, 2×2 pooling and a Dense layer; smaller ones train faster on CPUs.

import { z } from 'zod';
import { activation, classes, fraction, l2, positiveInt } from './common.js';

export const ConvBlockSchema = z
  .object({
    filters: positiveInt(1024),
    kernelSize: positiveInt(11).default(3),
    /** At most the kernel size: TF.js' WebAssembly convolution disagrees with its own geometry beyond that. */
    strides: positiveInt(4).default(1),
    padding: z.enum(['same', 'valid']).default('same'),
    activation: activation.default('relu'),
    batchNorm: z.boolean().default(false),
    /** Max-pooling window and stride after the block; 1 = none. */
    pool: positiveInt(4).default(1),
    dropout: fraction.default(0),
  })
  .strict()
  .refine((b) => b.strides <= b.kernelSize, { message: 'strides must not exceed kernelSize', path: ['strides'] });

export const CnnSpecSchema = z
  .object({
    family: z.literal('cnn'),
    /** [height, width, channels]. */
    inputShape: z.tuple([positiveInt(4096), positiveInt(4096), positiveInt(64)]),
    conv: z.array(ConvBlockSchema).min(1).max(16),
    dense: z.array(positiveInt(65_536)).max(8).default([]),
    /** Dropout before each Dense layer, the output included. */
    dropout: fraction.default(0),
    classes,
    l2,
  })
  .strict();
export type CnnSpec = z.output<typeof CnnSpecSchema>;
