// A model a team brings as a standard TF.js Layers topology (the `modelTopology` of a
// model.json, Sequential or functional, as tfjs and the Keras converter write it). Only the
// layers listed in SUPPORTED train here — each has a gradient on every backend Concord uses
// and weights whose roles families/initial-weights.ts knows — and the rest are refused when
// the run is compiled, naming the layer. The topology's last layer must be a softmax Dense
// layer (a classifier); Concord rebuilds it as the logits layer `output` followed by a
// weightless `softmax`, so training takes the logits and the export still predicts
// probabilities. The team's own initializers are ignored: every party starts from Concord's
// seeded initial weights.

import * as tf from '@tensorflow/tfjs';
import type { LayersSpec } from '../../protocol/messages.js';
import type { Problem } from '../../protocol/problems.js';
import { LOGITS_LAYER, type ModelFamily } from './family.js';

const SUPPORTED = new Set([
  'InputLayer', 'Dense', 'Dropout', 'Flatten', 'Reshape', 'Activation', 'ReLU', 'Softmax',
  'Conv1D', 'Conv2D', 'SeparableConv2D', 'DepthwiseConv2D',
  'MaxPooling1D', 'MaxPooling2D', 'AveragePooling1D', 'AveragePooling2D',
  'GlobalMaxPooling1D', 'GlobalMaxPooling2D', 'GlobalAveragePooling1D', 'GlobalAveragePooling2D',
  'BatchNormalization', 'LayerNormalization', 'Embedding', 'LSTM', 'GRU', 'SimpleRNN',
  'Add', 'Concatenate', 'Multiply', 'Average',
]);
/** Largest unit, filter or vocabulary count accepted before anything is built. */
const MAX_WIDTH = 1_000_000;
const INITIALIZER_KEYS = ['kernel_initializer', 'recurrent_initializer', 'bias_initializer', 'embeddings_initializer', 'depthwise_initializer', 'pointwise_initializer', 'gamma_initializer', 'beta_initializer', 'moving_mean_initializer', 'moving_variance_initializer'];

interface LayerJson {
  class_name: string;
  config: Record<string, unknown> & { name?: string };
  inbound_nodes?: unknown[];
  name?: string;
}
interface TopologyJson {
  class_name: string;
  config: { layers?: LayerJson[]; output_layers?: unknown[]; input_layers?: unknown[] } & Record<string, unknown>;
}

/** The topology itself, from a model.json, its modelTopology, or a Keras model_config. */
export function topologyOf(spec: LayersSpec): TopologyJson {
  let t = spec.modelTopology as Record<string, unknown>;
  if (t.modelTopology && typeof t.modelTopology === 'object') t = t.modelTopology as Record<string, unknown>;
  if (t.model_config && typeof t.model_config === 'object') t = t.model_config as Record<string, unknown>;
  return t as unknown as TopologyJson;
}

function layersOf(topology: TopologyJson): LayerJson[] {
  return Array.isArray(topology.config?.layers) ? topology.config.layers : [];
}

function describeProblems(spec: LayersSpec): Problem[] {
  const topology = topologyOf(spec);
  const at = (i: number, key?: string) => `model.modelTopology.config.layers[${i}]${key ? `.config.${key}` : ''}`;
  if (!['Sequential', 'Model', 'Functional'].includes(topology.class_name) || layersOf(topology).length === 0) {
    return [{ path: 'model.modelTopology', message: 'expected a Layers topology: {class_name: "Sequential" | "Model" | "Functional", config: {layers: [...]}} (a model.json, its modelTopology, or its model_config)' }];
  }
  const problems: Problem[] = [];
  const layers = layersOf(topology);
  layers.forEach((layer, i) => {
    const name = layer.config?.name ?? layer.name ?? `#${i}`;
    if (!SUPPORTED.has(layer.class_name)) {
      problems.push({ path: at(i), message: `layer "${name}" is a ${layer.class_name}, which Concord cannot train; supported layers: ${[...SUPPORTED].join(', ')}` });
      return;
    }
    for (const key of ['units', 'filters', 'input_dim', 'output_dim']) {
      const value = layer.config?.[key];
      if (typeof value === 'number' && value > MAX_WIDTH) problems.push({ path: at(i, key), message: `layer "${name}": ${key} ${value} exceeds ${MAX_WIDTH}` });
    }
    const dilation = layer.config?.dilation_rate;
    if (dilation !== undefined && [dilation].flat().some((d) => d !== 1)) problems.push({ path: at(i, 'dilation_rate'), message: `layer "${name}": dilated convolutions are not supported` });
    const kernel = [layer.config?.kernel_size].flat() as (number | undefined)[];
    const strides = [layer.config?.strides].flat() as (number | undefined)[];
    if (layer.class_name.includes('Conv') && strides.some((s, k) => typeof s === 'number' && s > (kernel[k] ?? kernel[0] ?? s))) {
      problems.push({ path: at(i, 'strides'), message: `layer "${name}": strides larger than the kernel are not supported (TF.js' WebAssembly convolution disagrees with its own geometry there)` });
    }
  });
  const last = layers.at(-1)!;
  if (last.class_name !== 'Dense' || last.config?.activation !== 'softmax') {
    problems.push({ path: at(layers.length - 1), message: `the last layer must be a Dense layer with activation "softmax" (a classifier); "${last.config?.name ?? last.name}" is a ${last.class_name}${last.class_name === 'Dense' ? ` with activation "${String(last.config?.activation)}"` : ''}` });
  }
  if (layers.some((l) => (l.config?.name ?? l.name) === LOGITS_LAYER || (l.config?.name ?? l.name) === 'softmax') && !(last.config?.name === LOGITS_LAYER)) {
    problems.push({ path: 'model.modelTopology', message: `layer names "${LOGITS_LAYER}" and "softmax" are Concord's; rename those layers` });
  }
  return problems;
}

/** The topology with zero initializers, the last Dense layer as the logits layer, and a softmax after it. */
function concordTopology(spec: LayersSpec): TopologyJson {
  const topology = structuredClone(topologyOf(spec));
  const layers = layersOf(topology);
  for (const layer of layers) for (const key of INITIALIZER_KEYS) if (key in layer.config) layer.config[key] = { class_name: 'Zeros', config: {} };
  const last = layers.at(-1)!;
  const lastName = String(last.config.name ?? last.name);
  last.config.activation = 'linear';
  last.config.name = LOGITS_LAYER;
  if (topology.class_name === 'Sequential') {
    layers.push({ class_name: 'Activation', config: { name: 'softmax', activation: 'softmax', trainable: true } });
  } else {
    last.name = LOGITS_LAYER;
    // Functional: whatever named the old last layer now names the logits layer; the softmax follows it.
    const rename = (value: unknown): unknown => (value === lastName ? LOGITS_LAYER : Array.isArray(value) ? value.map(rename) : value);
    for (const layer of layers) if (layer.inbound_nodes) layer.inbound_nodes = rename(layer.inbound_nodes) as unknown[];
    layers.push({ class_name: 'Activation', name: 'softmax', config: { name: 'softmax', activation: 'softmax', trainable: true }, inbound_nodes: [[[LOGITS_LAYER, 0, 0, {}]]] });
    topology.config.output_layers = [['softmax', 0, 0]];
  }
  return topology;
}

const camel = (key: string): string => (key.length <= 1 || !key.includes('_') ? key : key.replace(/[_]+(\w|$)/g, (_, c: string) => c.toUpperCase()));

/**
 * A Keras (snake_case) config as TF.js' own classes take it: keys and string values in
 * camelCase, except layer names, which stay as written (tfjs-layers' convertPythonicToTs
 * does the same; it is not exported, and its caller, modelFromJSON, is asynchronous).
 */
function pythonicToTs(value: unknown, key?: string): unknown {
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return value;
  if (typeof value === 'string') return camel(value);
  if (Array.isArray(value)) {
    const names = key === 'inboundNodes' || key === 'outputLayers' || key === 'inputLayers';
    return value.map((item, i) => (names && i === 0 && typeof item === 'string' ? item : pythonicToTs(item, key)));
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (k === 'name' && typeof v === 'string') out[k] = v;
    else out[camel(k)] = pythonicToTs(v, camel(k));
  }
  return out;
}

function build(spec: LayersSpec): tf.LayersModel {
  const problems = describeProblems(spec);
  if (problems.length > 0) throw new Error(problems.map((p) => `${p.path}: ${p.message}`).join('; '));
  const topology = concordTopology(spec);
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[topology.class_name];
  if (!entry) throw new Error(`TF.js has no model class ${topology.class_name}`);
  const [cls, fromConfig] = entry;
  return fromConfig(cls, pythonicToTs(topology.config) as tf.serialization.ConfigDict) as unknown as tf.LayersModel;
}

/** What the built model says about itself, built once per spec. */
const shapes = new Map<string, { inputShape: number[]; classes: number; embedding?: number; parameters: number; batchNorm: boolean }>();
function shapeOf(spec: LayersSpec) {
  const key = JSON.stringify(spec);
  let shape = shapes.get(key);
  if (!shape) {
    const model = build(spec);
    try {
      const first = model.layers.find((l) => l.getClassName() !== 'InputLayer');
      const embedding = first?.getClassName() === 'Embedding' ? (first.getConfig() as { inputDim: number }).inputDim : undefined;
      shape = {
        inputShape: model.inputs[0]!.shape.slice(1).map((d) => d ?? 1),
        classes: model.outputs[0]!.shape[1] as number,
        ...(embedding !== undefined ? { embedding } : {}),
        parameters: model.countParams(),
        batchNorm: model.layers.some((l) => l.getClassName() === 'BatchNormalization'),
      };
    } finally {
      model.dispose();
    }
    shapes.set(key, shape);
  }
  return shape;
}

export const layersFamily: ModelFamily<LayersSpec> = {
  name: 'layers',
  support: (spec) => ({
    dpSgd: shapeOf(spec).batchNorm ? { reason: 'the topology has batch normalisation, which mixes the examples of a batch, so one example\'s gradient cannot be clipped on its own' } : true,
    browser: ['webgl', 'wasm', 'cpu'],
  }),
  check: (spec) => describeProblems(spec),
  io(spec) {
    const shape = shapeOf(spec);
    return { inputShape: shape.inputShape, input: shape.embedding !== undefined ? 'ids' : 'features', classes: shape.classes, ...(shape.embedding !== undefined ? { vocabulary: shape.embedding } : {}) };
  },
  parameterCount: (spec) => shapeOf(spec).parameters,
  build,
};
