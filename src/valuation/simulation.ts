// An in-process federation over datasets that are all at hand — a simulation, or the demo
// that owns every shard — for valuing contributions: it runs FedAvg round by round exactly
// as the coordinator does (same initial model, sample-weighted averaging), keeps every
// update as the coordinator's keepUpdates does, and can rerun the federation with any
// coalition alone, which is what retraining-based Shapley values need (retrain.ts).

import type { Dataset } from '../data/dataset.js';
import { buildModel, initialParameters } from '../model/build.js';
import { perExampleCorrect } from '../model/evaluator.js';
import { trainLocal } from '../model/train.js';
import { getParameters, setParameters } from '../model/weights.js';
import type { ModelSpec, TrainConfig } from '../protocol/messages.js';
import type { Parameters } from '../protocol/tensors.js';
import { coalitionModel, type ValuationRound } from './federated.js';

export interface SimulatedMember {
  name: string;
  data: Dataset;
}

export interface SimulationOptions {
  spec: ModelSpec;
  members: readonly SimulatedMember[];
  rounds: number;
  /** Each member's local training per round; its seed is mixed with the round and the member. */
  train: Pick<TrainConfig, 'epochs' | 'batchSize' | 'learningRate' | 'optimizer'>;
  /** Seeds the initial model and local training; default 0. */
  seed?: number;
}

export interface SimulatedRun {
  /** Every round's starting model and updates, as the coordinator stores them. */
  rounds: ValuationRound[];
  final: Parameters;
}

/** Runs the federation with the members given (a coalition of the consortium), from the same initial model. */
export async function simulateFederation(options: SimulationOptions, only?: readonly string[]): Promise<SimulatedRun> {
  const seed = options.seed ?? 0;
  const model = buildModel(options.spec, seed);
  const members = options.members.map((m, index) => ({ ...m, index })).filter((m) => !only || only.includes(m.name));
  let global = initialParameters(options.spec, seed);
  const rounds: ValuationRound[] = [];
  try {
    for (let round = 1; round <= options.rounds; round++) {
      const updates = [];
      for (const m of members) {
        setParameters(model, global);
        // The seed depends on the member's place in the consortium, not in the coalition, so a
        // member trains the same way in every coalition that starts it from the same model.
        await trainLocal(model, m.data, { ...options.train, proximalMu: 0, seed: seed * 1_000_003 + round * 1009 + m.index });
        updates.push({ member: m.name, numExamples: m.data.y.length, parameters: getParameters(model) });
      }
      rounds.push({ round, previous: global, updates });
      global = coalitionModel(global, updates);
    }
  } finally {
    model.dispose();
  }
  return { rounds, final: global };
}

/** A `train(coalition)` for valueByRetraining: the final model of the federation of that coalition alone. */
export function retrainCoalitions(options: SimulationOptions): (coalition: string[]) => Promise<Parameters> {
  return async (coalition) => (await simulateFederation(options, coalition)).final;
}

/** Per-example correctness on `data` of any parameters of this model, for bootstrap intervals. */
export function correctnessOn(spec: ModelSpec, data: Dataset): (parameters: Parameters) => Promise<Uint8Array> {
  const model = buildModel(spec, 0);
  return async (parameters) => {
    setParameters(model, parameters);
    return perExampleCorrect(model, data);
  };
}
