// FedBuff, asynchronous buffered aggregation (Nguyen et al. 2022, "Federated Learning with
// Buffered Asynchronous Aggregation", AISTATS, arXiv 2106.06639): members train whenever
// they are free, each from the newest global model it was sent; the server keeps a buffer
// of their updates and applies it every K arrivals,
//
//   θ ← θ + η · (1/K) Σ_k s(τ_k) · (θ_k − θ_base(k)),   s(τ) = (1 + τ)^(−a),
//
// where τ_k is the update's staleness: how many server versions were applied between the
// model member k started from and the one the buffer is applied to. Updates staler than
// `maxStaleness` are dropped. The paper weights updates uniformly with a = 0.5; `weighting:
// examples` scales each by its share of the buffer's examples instead (n_k · K / Σ n).
// coordinator/async-loop.ts drives it; one applied buffer is one stored round.

import { z } from 'zod';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { Parameters } from '../protocol/tensors.js';
import { BaseStrategy } from './base.js';
import { parseOptions } from './options.js';
import type { Strategy } from './strategy.js';

export const FedBuffOptionsSchema = z
  .object({
    /** K: updates per applied buffer. */
    bufferSize: z.number().int().min(1).max(100_000).default(10),
    /** Updates from a model more than this many versions old are dropped. */
    maxStaleness: z.number().int().min(0).default(20),
    /** Members training at once; default every available member. */
    concurrency: z.number().int().min(1).optional(),
    /** a in s(τ) = (1 + τ)^(−a); 0 ignores staleness. */
    stalenessExponent: z.number().min(0).max(10).default(0.5),
    /** η, the server learning rate. */
    serverLearningRate: z.number().positive().max(100).default(1),
    weighting: z.enum(['uniform', 'examples']).default('uniform'),
  })
  .strict();
export type FedBuffOptions = z.input<typeof FedBuffOptionsSchema>;

export interface BufferedUpdate {
  memberId: string;
  /** The member's trained model, θ_k. */
  parameters: Parameters;
  /** The global model it started from, θ_base(k). */
  base: Parameters;
  numExamples: number;
  /** Server versions applied since θ_base(k). */
  staleness: number;
}

/** What an asynchronous strategy tells the loop that drives it. */
export interface AsyncSchedule {
  bufferSize: number;
  maxStaleness: number;
  concurrency: number | undefined;
  /** η: the next model is θ + η · (the buffer's discounted mean update). */
  serverLearningRate: number;
  /** How updates in a buffer are weighted before the staleness discount. */
  weighting: 'uniform' | 'examples';
  /** s(τ), the staleness discount. */
  discount(staleness: number): number;
  /** The next global model from the current one and a full buffer. */
  apply(current: Parameters, buffer: readonly BufferedUpdate[]): Parameters;
}

export class FedBuff extends BaseStrategy {
  readonly name = 'fedbuff';
  readonly schedule: AsyncSchedule;

  constructor(options: FedBuffOptions = {}) {
    super();
    const o = parseOptions(this.name, FedBuffOptionsSchema, options);
    const discount = (staleness: number): number => (1 + staleness) ** -o.stalenessExponent;
    this.schedule = {
      bufferSize: o.bufferSize,
      maxStaleness: o.maxStaleness,
      concurrency: o.concurrency,
      serverLearningRate: o.serverLearningRate,
      weighting: o.weighting,
      discount,
      apply: (current, buffer) => {
        if (buffer.length === 0) return current;
        const totalExamples = buffer.reduce((s, u) => s + u.numExamples, 0);
        // Sums in float64: the result does not depend on the order updates arrived in beyond float32 rounding at the end.
        const sum = new Float64Array(current.data.length);
        for (const u of buffer) {
          if (u.parameters.data.length !== current.data.length || u.base.data.length !== current.data.length) {
            throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `the update of ${u.memberId} holds ${u.parameters.data.length} values, the model ${current.data.length}`, { details: { field: 'parameters', expected: current.data.length, received: u.parameters.data.length } });
          }
          const share = o.weighting === 'examples' ? (u.numExamples * buffer.length) / totalExamples : 1;
          const w = (share * discount(u.staleness)) / buffer.length;
          const theta = u.parameters.data;
          const base = u.base.data;
          for (let i = 0; i < sum.length; i++) sum[i]! += w * (theta[i]! - base[i]!);
        }
        const next = new Float32Array(current.data.length);
        for (let i = 0; i < next.length; i++) next[i] = current.data[i]! + o.serverLearningRate * sum[i]!;
        return { specs: current.specs, data: next };
      },
    };
  }
}

/** The asynchronous schedule of a strategy (or of the one a wrapper adds to), if it has one. */
export function asyncScheduleOf(strategy: Strategy): AsyncSchedule | null {
  for (let s: Strategy | undefined = strategy; s; s = s.inner) {
    const schedule = (s as Partial<FedBuff>).schedule;
    if (schedule) return schedule;
  }
  return null;
}
