// FedAvg's θ = Σ_k n_k θ_k / Σ_k n_k, summed as the updates arrive: each update is added
// to a float64 running sum and can be let go at once, so a round of a thousand members
// holds one model's worth of sums instead of a thousand updates (400 MB at 100k
// parameters), and the bytes each update arrived in can be reused for the next one.
//
// Exactness: the same float64 sum as the hierarchical path's shard partials
// (distributed/partial.ts), taken in arrival order. It errs from the exact mean by at most
// ½ ulp₃₂ plus K·2⁻⁵³·A_i (A_i = Σ_k n_k |θ_k,i| / n), so two arrival orders agree to that
// bound, which almost always rounds to the same float32.

import { ConcordError, ErrorCode } from '../protocol/errors.js';

export class StreamingMean {
  private readonly sum: Float64Array;
  private weight = 0;
  private added = 0;

  constructor(readonly length: number) {
    this.sum = new Float64Array(length);
  }

  /** Adds w·x; x is read now and not kept. */
  add(data: Float32Array, weight: number): void {
    if (data.length !== this.length) {
      throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `an update holds ${data.length} values, the model ${this.length}`, { details: { field: 'parameters', expected: this.length, received: data.length } });
    }
    if (!Number.isFinite(weight) || weight < 0) {
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `an update's weight is ${weight}; expected a finite number >= 0`, { details: { field: 'weight', expected: '>= 0', received: weight } });
    }
    const s = this.sum;
    const n = s.length;
    const m = n - (n & 3);
    let i = 0;
    // Four per iteration: a third faster than one (measured on 100k values).
    for (; i < m; i += 4) {
      s[i]! += weight * data[i]!;
      s[i + 1]! += weight * data[i + 1]!;
      s[i + 2]! += weight * data[i + 2]!;
      s[i + 3]! += weight * data[i + 3]!;
    }
    for (; i < n; i++) s[i]! += weight * data[i]!;
    this.weight += weight;
    this.added++;
  }

  /** How many updates were added. */
  get count(): number {
    return this.added;
  }

  get totalWeight(): number {
    return this.weight;
  }

  /** Σ w_k x_k / Σ w_k in float32; null while the weights sum to 0. */
  mean(): Float32Array | null {
    if (!(this.weight > 0)) return null;
    const out = new Float32Array(this.length);
    const s = this.sum;
    const w = this.weight;
    for (let i = 0; i < out.length; i++) out[i] = s[i]! / w;
    return out;
  }
}
