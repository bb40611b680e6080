// How a masked vector rides in a protocol frame: a uint32 tensor whose bytes sit in the
// frame's 4-byte slots, shared by the member that sends it and the coordinator that sums it.

import type { Parameters, TensorSpec } from '../../protocol/tensors.js';

export const MASKED_VECTOR_TENSOR = 'secagg/maskedVector';

export function maskedVectorSpec(elements: number): TensorSpec {
  return { name: MASKED_VECTOR_TENSOR, shape: [elements], dtype: 'uint32' };
}

/** A ring vector as frame parameters: a float32 view of the same bytes, labelled uint32 so nobody reads it as floats. */
export function maskedVectorParameters(vector: Uint32Array): Parameters {
  return { specs: [maskedVectorSpec(vector.length)], data: new Float32Array(vector.buffer, vector.byteOffset, vector.length) };
}

