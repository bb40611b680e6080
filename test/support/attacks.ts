// Malicious members for the robust-aggregation scenario: wrappers that turn an honest
// TaskHandler (or an honest member's data) into an attacker.
//
// - Model poisoning works on the member's delta Δ = θ_local − θ_global after honest local
//   training: signFlip sends θ − s·Δ (Blanchard et al. 2017 use reversed gradients as their
//   Byzantine example), scaled sends θ + f·Δ (the boosted "model replacement" update of
//   Bagdasaryan et al. 2020, arXiv 1807.00459).
// - Data poisoning, labelFlip, relabels the member's training examples y → (classes − 1) − y
//   (for MNIST 9 − y; Tolpegin et al. 2020, arXiv 2007.08432). The holdout keeps its true
//   labels: the attacker's goal is a bad global model, and its federated-evaluation reports
//   stay comparable with the honest members' (the scenario scores the model on the
//   coordinator's test set anyway).
//
// Attackers report their real example count and honest-looking metrics: nothing but the
// parameters gives them away.

import type { Dataset, MemberData } from '../../src/data/dataset.js';
import type { TaskHandler } from '../../src/node/member.js';
import type { Parameters } from '../../src/protocol/tensors.js';

/** θ + factor·(θ_local − θ): the update a member would send, stretched (factor > 1) or reversed (factor < 0). */
export function stretchUpdate(global: Parameters, local: Parameters, factor: number): Parameters {
  const data = new Float32Array(global.data.length);
  for (let i = 0; i < data.length; i++) data[i] = global.data[i]! + factor * (local.data[i]! - global.data[i]!);
  return { specs: local.specs.map((s) => ({ name: s.name, shape: [...s.shape] })), data };
}

function transformingTrain(handler: TaskHandler, factor: number): TaskHandler {
  return {
    ...handler,
    async train(task, global) {
      const out = await handler.train(task, global);
      return { ...out, parameters: stretchUpdate(global, out.parameters, factor) };
    },
  };
}

/** Trains honestly, then sends θ − scale·(θ_local − θ): its update points the other way, `scale` times as long. */
export function signFlip(handler: TaskHandler, scale: number): TaskHandler {
  return transformingTrain(handler, -scale);
}

/** Trains honestly, then sends θ + factor·(θ_local − θ): a boosted update meant to outweigh the others. */
export function scaled(handler: TaskHandler, factor: number): TaskHandler {
  return transformingTrain(handler, factor);
}

/** The dataset with every label y replaced by (classes − 1) − y. */
export function flipLabels(data: Dataset): Dataset {
  return { ...data, y: data.y.map((label) => data.classes - 1 - label) };
}

/** A member whose training labels are flipped (y → classes − 1 − y); its holdout keeps the true labels. */
export function labelFlip(data: MemberData): MemberData {
  return { ...data, train: flipLabels(data.train) };
}
