// GlobalMaxPooling1D as one op: one pass over x [batch, steps, channels] in memory order for
// the maxima and where they are, and a gradient that puts dy at those positions. TF.js reduces
// over the middle axis by transposing it last first (1.8 ms forward for the bench's text
// model, against 0.3 here) and computes the gradient as an argmax, a one-hot and a product.
// dy goes to the first step holding each maximum, as Concord's Max gradient gives it
// (kernels/max-gradient.ts); a NaN is the maximum once reached, as in TF.js.

import * as tf from '@tensorflow/tfjs';
import { hostView } from '../kernels/heap.js';
import type { FusedCall } from './fused-layers.js';
import { hintNonzeros } from './gradient-hints.js';

export function globalMaxPool1d(x: tf.Tensor3D): tf.Tensor2D {
  return tf.customGrad(((xs: tf.Tensor3D) => {
    const [B, P, C] = xs.shape;
    const values = hostView(xs);
    const best = new Float32Array(B * C).fill(-Infinity);
    const at = new Int32Array(B * C);
    for (let b = 0; b < B; b++) {
      for (let p = 0; p < P; p++) {
        const row = (b * P + p) * C;
        const out = b * C;
        for (let c = 0; c < C; c++) {
          const v = values[row + c]!;
          // Greater, or a NaN reached first (nothing compares above it afterwards).
          if (!(v <= best[out + c]!) && !Number.isNaN(best[out + c]!)) {
            best[out + c] = v;
            at[out + c] = p;
          }
        }
      }
    }
    const value = tf.tensor2d(best, [B, C]);
    const gradFunc = (dy: tf.Tensor2D): tf.Tensor => {
      const d = hostView(dy);
      const dx = new Float32Array(B * P * C);
      const entries = new Int32Array(B * C);
      for (let b = 0; b < B; b++) {
        for (let c = 0; c < C; c++) {
          const entry = (b * P + at[b * C + c]!) * C + c;
          dx[entry] = d[b * C + c]!;
          entries[b * C + c] = entry;
        }
      }
      return hintNonzeros(tf.tensor3d(dx, [B, P, C]), entries);
    };
    return { value, gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0])(x) as tf.Tensor2D;
}

/** The fused call of a GlobalMaxPooling1D layer (fused-layers.ts). */
export const fusedGlobalMaxPoolCall: FusedCall = () => (x) => (x.rank === 3 && x.dtype === 'float32' ? globalMaxPool1d(x as tf.Tensor3D) : undefined);
