// What a run's model is, for people: its family, parameter count and layers (name, kind,
// output shape, parameters), as Keras' model.summary() lists them. Built from the spec with
// the same code members train with, so the summary is the model, not a description of it.

import type { ModelSpec } from '../protocol/messages.js';
import { buildModel } from './build.js';

export interface LayerSummary {
  name: string;
  /** The TF.js layer class, e.g. Conv2D, Dense, LayerNormalization. */
  type: string;
  /** Output shape without the batch dimension; several for layers with several outputs. */
  outputShape: number[][];
  parameters: number;
}

export interface ModelSummary {
  family: ModelSpec['family'];
  parameters: number;
  trainable: number;
  layers: LayerSummary[];
}

export function summarizeModel(spec: ModelSpec): ModelSummary {
  const model = buildModel(spec, 0);
  try {
    const layers = model.layers.map((layer) => {
      const shape = layer.outputShape;
      const shapes = (Array.isArray(shape[0]) || shape.length === 0 ? (shape as (number | null)[][]) : [shape as (number | null)[]]).map((s) => s.slice(1).map((d) => d ?? -1));
      return { name: layer.name, type: layer.getClassName(), outputShape: shapes, parameters: layer.countParams() };
    });
    const trainable = model.trainableWeights.reduce((n, w) => n + (w.shape as number[]).reduce((a, b) => a * b, 1), 0);
    return { family: spec.family, parameters: model.countParams(), trainable, layers };
  } finally {
    model.dispose();
  }
}
