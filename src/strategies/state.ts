// Server optimizer state travels as ordinary Parameters so that the coordinator can
// checkpoint it with the model: each buffer's tensors are renamed `<buffer>/<tensor>`,
// e.g. `m/dense1/kernel`, buffers one after another.

import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { type Parameters, type TensorSpec, assertFinite, assertSameSpecs, totalSize } from '../protocol/tensors.js';

export function packState(specs: readonly TensorSpec[], buffers: Record<string, Float32Array>): Parameters {
  const names = Object.keys(buffers);
  const n = totalSize(specs);
  const data = new Float32Array(n * names.length);
  const out: TensorSpec[] = [];
  names.forEach((buffer, b) => {
    data.set(buffers[buffer]!, b * n);
    for (const s of specs) out.push({ name: `${buffer}/${s.name}`, shape: [...s.shape] });
  });
  return { specs: out, data };
}

/** Inverse of packState; copies the data. Throws INVALID_ARGUMENT / SHAPE_MISMATCH naming the offending state tensor. */
export function unpackState(strategy: string, state: Parameters, buffers: readonly string[]): { specs: TensorSpec[]; buffers: Record<string, Float32Array> } {
  const count = state.specs.length / buffers.length;
  if (!Number.isInteger(count) || count === 0) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${strategy} state must hold the tensors of ${buffers.join(', ')} in equal numbers, received ${state.specs.length} tensors`, {
      details: { field: 'state.tensors', expected: `a non-zero multiple of ${buffers.length}`, received: state.specs.length },
    });
  }
  if (state.data.length !== totalSize(state.specs)) {
    throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `${strategy} state holds ${state.data.length} values but its manifest describes ${totalSize(state.specs)}`, {
      details: { field: 'state.data', expected: totalSize(state.specs), received: state.data.length },
    });
  }
  assertFinite(state, 'state.tensors');
  let specs: TensorSpec[] = [];
  const out: Record<string, Float32Array> = {};
  let offset = 0;
  buffers.forEach((buffer, b) => {
    const group = state.specs.slice(b * count, (b + 1) * count).map((s, i) => {
      const prefix = `${buffer}/`;
      if (!s.name.startsWith(prefix)) {
        throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${strategy} state tensor ${s.name} should be named ${prefix}<tensor>`, {
          details: { field: `state.tensors[${b * count + i}].name`, expected: `${prefix}<tensor>`, received: s.name },
        });
      }
      return { name: s.name.slice(prefix.length), shape: [...s.shape] };
    });
    if (b === 0) specs = group;
    else assertSameSpecs(specs, group, `state.${buffer}`);
    const n = totalSize(group);
    out[buffer] = state.data.slice(offset, offset + n);
    offset += n;
  });
  return { specs, buffers: out };
}
