// Federated matrix factorisation for recommendation (Ammad-ud-din et al. 2019, "Federated
// Collaborative Filtering"): r̂(u, i) = μ + b_i + b_u + p_u·q_i. Item factors q and biases b_i
// (and μ) are global and aggregated; each user's factors p_u and bias b_u stay on the member
// that holds the user and never leave it.

import { z } from 'zod';
import { positiveInt } from './common.js';

export const MfSpecSchema = z
  .object({
    family: z.literal('mf'),
    /** Items are ids in [0, items). */
    items: positiveInt(10_000_000),
    factors: positiveInt(512),
    /** Ratings lie in [min, max]; predictions are clipped to it. */
    ratingRange: z.tuple([z.number().finite(), z.number().finite()]).refine(([lo, hi]) => lo < hi, { message: 'expected [min, max] with min < max' }),
    /** L2 regularisation of factors and biases. */
    l2: z.number().finite().min(0).max(10).default(0.02),
  })
  .strict();
export type MfSpec = z.output<typeof MfSpecSchema>;
