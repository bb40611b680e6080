// Layers whose forward pass runs as one differentiable op of Concord's own on the backends
// where a tensor lives in host memory (wasm, cpu), because TF.js' composition of small
// kernels is several times slower there: LSTM and GRU (recurrent-sequence.ts), Conv1D with
// ReLU (conv1d-relu.ts), GlobalMaxPooling1D (global-max-pool.ts). The layer keeps its class, weights and config, so the model and its
// export stay standard Keras; only its `call` is routed, and only for the configurations the
// op computes. WebGL, where reading a tensor back stalls the GPU, runs TF.js' own layer.

import * as tf from '@tensorflow/tfjs';
import { fusedConv1dCall } from './conv1d-relu.js';
import { fusedGlobalMaxPoolCall } from './global-max-pool.js';
import { fusedGruCall, fusedLstmCall } from './recurrent-sequence.js';

/** Backends whose tensors the fused ops read back cheaply (a copy of host memory). */
const HOST_BACKENDS = new Set(['wasm', 'cpu']);

/**
 * For a built layer of its class: the fused forward pass if the layer's configuration is one
 * it computes, else undefined. The pass itself may still decline a call (undefined) whose
 * arguments it does not cover (a mask, an initial state).
 */
export type FusedCall = (layer: tf.layers.Layer) => ((x: tf.Tensor, kwargs: Record<string, unknown>) => tf.Tensor | undefined) | undefined;

/** Keras class name → its fused call. */
const FUSED_CALLS: Record<string, FusedCall> = { LSTM: fusedLstmCall, GRU: fusedGruCall, Conv1D: fusedConv1dCall, GlobalMaxPooling1D: fusedGlobalMaxPoolCall };

type Call = (inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor | tf.Tensor[];

/** Routes a layer's forward pass through its fused op where that computes the same; returns the layer. */
export function fuseLayer<L extends tf.layers.Layer>(layer: L): L {
  const fused = FUSED_CALLS[layer.getClassName()]?.(layer);
  if (!fused) return layer;
  const target = layer as unknown as { call: Call };
  const original = target.call.bind(layer);
  target.call = (inputs, kwargs) => {
    const single = Array.isArray(inputs) ? (inputs.length === 1 ? inputs[0]! : undefined) : inputs;
    const result = single && HOST_BACKENDS.has(tf.getBackend()) ? fused(single, kwargs ?? {}) : undefined;
    return result ?? original(inputs, kwargs);
  };
  return layer;
}

/** fuseLayer on every layer of a model (and of the models nested in it). */
export function fuseLayers(model: tf.LayersModel): tf.LayersModel {
  for (const layer of model.layers) {
    if (layer instanceof tf.LayersModel) fuseLayers(layer);
    else fuseLayer(layer);
  }
  return model;
}
