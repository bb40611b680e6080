// The centralised baseline of a demo task: the same model trained on the pooled data of
// every member, which only the demo (holding every share) can build. It runs in a worker
// thread alongside the federation (baseline-worker.ts), so the demo's wall time is the
// longer of the two, not their sum.

import type { Dataset } from '../data/dataset.js';
import { loadDataset, loadMemberData } from '../data/spec.js';
import { initBackend } from '../model/backend.js';
import { buildModel, initialParameters } from '../model/build.js';
import { createLocalModel } from '../model/local-model.js';
import { evaluate, trainLocal } from '../model/train.js';
import { ModelSpecSchema } from '../protocol/messages.js';
import { DEMO_TASKS, type DataChoice, type TaskSettings } from './tasks.js';

export interface BaselineJob {
  task: string;
  settings: TaskSettings;
  epochs: number;
  choice: DataChoice;
  seed: number;
}

/** Called after every epoch with the training loss. */
export type EpochListener = (epoch: number, epochs: number, loss: number) => void;

/** The task's metric (accuracy or RMSE) of the centrally trained model. */
export async function trainBaseline(job: BaselineJob, onEpoch: EpochListener): Promise<number> {
  const task = DEMO_TASKS[job.task]!;
  await initBackend();
  return task.evaluation === 'members' ? onMembersHoldouts(job, onEpoch) : onTestSet(job, onEpoch);
}

async function onTestSet({ task: name, settings, epochs, choice, seed }: BaselineJob, onEpoch: EpochListener): Promise<number> {
  const task = DEMO_TASKS[name]!;
  const pool = await loadDataset(task.data(choice, 'pool'));
  const test = await loadDataset(task.data(choice, 'test'));
  const model = buildModel(ModelSpecSchema.parse(task.model()), seed);
  await trainLocal(model, pool, { epochs, batchSize: settings.batchSize, learningRate: settings.learningRate, optimizer: settings.optimizer, proximalMu: 0, seed }, {
    onEpoch: (epoch: number, loss: number) => onEpoch(epoch + 1, epochs, loss),
  });
  const result = await evaluate(model, test);
  model.dispose();
  return result.accuracy;
}

/**
 * The baseline of a task its members evaluate: trained on the union of their train splits,
 * measured on the union of their holdouts (the rows the federation was measured on).
 */
async function onMembersHoldouts({ task: name, settings, epochs, choice, seed }: BaselineJob, onEpoch: EpochListener): Promise<number> {
  const task = DEMO_TASKS[name]!;
  const shares = await Promise.all(Array.from({ length: choice.members }, (_, member) => loadMemberData(task.data(choice, { member }))));
  const union = (parts: Dataset[]): Dataset => ({ ...parts[0]!, x: concat(parts.map((d) => d.x)), y: Int32Array.from(parts.flatMap((d) => [...d.y])) });
  const pool = union(shares.map((s) => s.train));
  const holdout = union(shares.map((s) => s.holdout));
  const spec = ModelSpecSchema.parse(task.model());
  const model = createLocalModel(spec);
  let parameters = initialParameters(spec, seed);
  const learningRate = task.baselineLearningRate ?? settings.learningRate;
  for (let epoch = 0; epoch < epochs; epoch++) {
    const out = await model.train(parameters, pool, { epochs: 1, batchSize: settings.batchSize, learningRate, optimizer: settings.optimizer, proximalMu: 0, seed: seed + epoch });
    parameters = out.parameters;
    onEpoch(epoch + 1, epochs, out.metrics.loss!);
  }
  const { metrics } = await model.evaluate(parameters, holdout);
  return task.metric === 'rmse' ? Math.sqrt(metrics.loss!) : metrics.accuracy!;
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
