// The training plan's schema and its approval record, without plans.ts' hashing and
// signing (node:crypto): the browser member (web/src/join/approval.ts) normalizes a plan
// with this very schema, so it hashes the same canonical bytes the data owner signed.

import { z } from 'zod';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { RunConfigSchema } from '../protocol/messages.js';
import type { Decision } from './approval-bytes.js';

const finite = z.number().finite();

export const PlanSchema = z
  .object({
    title: z.string().min(1).max(200),
    /** Who proposes it (a researcher's name or token label). */
    researcher: z.string().min(1).max(200),
    purpose: z.string().min(1).max(500),
    /** Dataset ids from the agreement; their owners are the members who must approve. */
    datasets: z.array(z.string().min(1).max(128)).min(1),
    /** Model, strategy, rounds and local training hyper-parameters, exactly as the run will use them. */
    config: RunConfigSchema,
    privacy: z
      .object({
        secureAggregation: z.boolean().default(false),
        differentialPrivacy: z
          .object({
            epsilon: finite.positive(),
            delta: finite.min(0).lt(1),
            level: z.enum(['client', 'sample']).default('client'),
            clipNorm: finite.positive().optional(),
            noiseMultiplier: finite.min(0).optional(),
          })
          .strict()
          .nullable()
          .default(null),
      })
      .strict()
      .default({}),
    createdAt: z.number().int().min(0),
  })
  .strict();

export type Plan = z.infer<typeof PlanSchema>;
export type PlanInput = z.input<typeof PlanSchema>;

export interface PlanApproval {
  planHash: string;
  /** Agreement name of the member whose data owner decided. */
  member: string;
  decision: Decision;
  reason: string | null;
  /** Epoch milliseconds of the decision. */
  at: number;
  /** Ed25519 signature by the member's data owner over approvalSigningBytes(…). */
  signature: string;
}

/** Validates a plan and fills in defaults; errors list every problem with its field. */
export function parsePlan(value: unknown): Plan {
  const result = PlanSchema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => ({ path: i.path.join('.') || '(root)', message: i.message }));
  throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `invalid plan: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, {
    details: { field: issues[0]!.path, issues },
  });
}
