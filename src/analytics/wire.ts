// What an analytics task carries (coordinator/analytics-runner.ts ↔ node/analytics-handler.ts):
// the query, the schema it was compiled against (by hash: a member with another schema
// refuses), the minimum count, the limb width of the ring encoding, and — under secure
// aggregation — the SecAgg+ request of the stage. A member's vector (plain) or masked vector
// (collectMaskedVectors) travels as the frame's uint32 tensor, never in JSON.

import { z } from 'zod';
import { parseMessage } from '../protocol/messages.js';
import { QueryApprovalSchema } from './approval.js';
import { QuerySchema } from './query.js';

export const ANALYTICS_PLAIN_STAGE = 'plain';

export const AnalyticsPayloadSchema = z
  .object({
    query: QuerySchema,
    schemaHash: z.string().regex(/^[0-9a-f]{64}$/),
    minCount: z.number().int().min(1),
    limbBits: z.number().int().min(1).max(31),
    /** Data owners' signed approvals of the query (analytics/approval.ts), for members that check their own. */
    approvals: z.array(QueryApprovalSchema).max(1000).optional(),
    /** The SecAgg+ request of this stage (absent in the plain stage). */
    secagg: z.record(z.unknown()).optional(),
  })
  .strict();
export type AnalyticsPayload = z.infer<typeof AnalyticsPayloadSchema>;

export function parseAnalyticsPayload(value: unknown): AnalyticsPayload {
  return parseMessage(AnalyticsPayloadSchema, value, 'analytics task payload');
}
