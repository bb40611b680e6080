// What a model family is: one module per family (mlp.ts, cnn.ts, …) says how its spec
// (protocol/models/) becomes TF.js layers with stable weight names, what data it takes,
// how big it is before anything is built, and what it supports. The rest of the code asks
// the registry (index.ts) instead of checking family names.

import type * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../../data/dataset.js';
import type { ModelSpec, TrainConfig } from '../../protocol/messages.js';
import type { Problem } from '../../protocol/problems.js';
import type { Parameters } from '../../protocol/tensors.js';

export type BrowserBackend = 'webgl' | 'wasm' | 'cpu';

/** What the data of a member must look like to train this model. */
export interface ModelIO {
  /** Shape of one example as the model takes it; data with as many values per example fits (row-major). */
  inputShape: number[];
  /** Feature values, or integer ids (tokens, items) carried as float32 in the dataset. */
  input: 'features' | 'ids';
  /** Classes of a classifier; ids must lie below `vocabulary` when input is 'ids'. */
  classes: number;
  vocabulary?: number;
}

export interface FamilySupport {
  /** Sample-level DP-SGD, or why not. */
  dpSgd: true | { reason: string };
  /** Browser backends it trains on (in order of preference). */
  browser: readonly BrowserBackend[];
}

/** One layer as the dashboard and the report list it. */
export interface LayerSummary {
  name: string;
  type: string;
  outputShape: (number | null)[];
  parameters: number;
}

/**
 * Local training for a family that does not train its TF.js model as a whole: matrix
 * factorisation keeps each user's factors on the member, across rounds, outside the global
 * parameters.
 */
export interface LocalLearner {
  train(global: Parameters, data: Dataset, config: TrainConfig): Promise<{ parameters: Parameters; numExamples: number; metrics: Record<string, number> }>;
  evaluate(global: Parameters, data: Dataset): Promise<{ numExamples: number; loss: number; metrics: Record<string, number> }>;
}

export interface ModelFamily<S extends ModelSpec = ModelSpec> {
  readonly name: S['family'];
  support(spec: S): FamilySupport;
  io(spec: S): ModelIO;
  /** Trainable and non-trainable values, computed without building anything (limits are checked first). */
  parameterCount(spec: S): number;
  /** Problems the schema cannot see (a spatial size that shrinks to nothing, an unsupported layer). */
  check?(spec: S): Problem[];
  /**
   * The model with its weights at zero, layers named so every party gets the same weight
   * names: the logits come out of a layer named `output`, followed by a weightless
   * `softmax` layer (exported models predict probabilities).
   */
  build(spec: S): tf.LayersModel;
  /** The batch of examples (row-major, [n, ...inputShape], float32) as the model's input(s). */
  feed?(spec: S, x: tf.Tensor): tf.Tensor | tf.Tensor[];
  /** A learner of its own instead of training the built model (one per member, kept across rounds). */
  learner?(spec: S): LocalLearner;
}

/** The name of the logits layer every family's model has. */
export const LOGITS_LAYER = 'output';
