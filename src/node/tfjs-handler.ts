// Runs tasks with TensorFlow.js on the member's own data: set the global weights, train
// locally (FedProx's proximal term when the task asks for it), or evaluate on the
// member's holdout — its inputs first prepared by the run's harmonised preprocessing when
// the task carries one (data/preprocess.ts). Only parameters and metrics leave this module.
//
// Both members run this: the Node member (node/service.ts) and the browser one
// (web/src/join), so it imports nothing Node-only. What only a host can measure (the
// Node member's energy meter, node/energy.ts) is passed in as `meter`.

import type { Dataset, MemberData } from '../data/dataset.js';
import { applyPreprocessing, hasMissingInputs } from '../data/preprocess.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { type LocalModel, createLocalModel } from '../model/local-model.js';
import { UNCLIPPED_METRIC, privatizeUpdate } from '../privacy/dp/member.js';
import type { TaskHeader } from '../protocol/messages.js';
import type { Parameters } from '../protocol/tensors.js';
import type { TaskHandler } from './member.js';

/** Measures one training task from its start; `stop()` gives the metrics to report with it. */
export interface TrainingMeter {
  stop(): Record<string, number>;
}

export interface TfjsHandlerOptions {
  memberSeed?: number;
  log?: (line: string) => void;
  /** Called after each local epoch with its mean loss and accuracy; they stay on the member. */
  onEpoch?: (task: TaskHeader, epoch: number, loss: number, accuracy: number) => void;
  /**
   * Started when training starts and stopped when it ends; its metrics join the train
   * result's (the Node member passes energyMeter() of node/energy.ts). Default: none.
   */
  meter?: () => TrainingMeter;
  /**
   * The TF.js models by model spec, shared between handlers: simulated members in one
   * thread train one after another on the same model (concord simulate). Default: the
   * handler's own.
   */
  models?: Map<string, LocalModel>;
}

export function createTfjsHandler(data: MemberData, options: TfjsHandlerOptions = {}): TaskHandler {
  const models = options.models ?? new Map<string, LocalModel>();
  // The run's harmonised preprocessing, applied once per spec (it is the same for every task of a run).
  const prepared = new Map<string, { train: Dataset; holdout: Dataset }>();
  const missing = hasMissingInputs(data.train) || hasMissingInputs(data.holdout);
  const inputsFor = (task: TaskHeader): { train: Dataset; holdout: Dataset } => {
    const spec = task.config.preprocessing;
    if (!spec) {
      if (missing) {
        throw new ConcordError(ErrorCode.FORBIDDEN, 'this member’s data has missing values, which train only with the run’s harmonised preprocessing (run configuration "harmonise"); the task would train on NaN', {
          details: { field: 'config.preprocessing', expected: 'harmonised preprocessing', received: 'none' },
        });
      }
      return data;
    }
    const key = JSON.stringify(spec);
    let inputs = prepared.get(key);
    if (!inputs) {
      inputs = { train: applyPreprocessing(data.train, spec), holdout: applyPreprocessing(data.holdout, spec) };
      prepared.clear();
      prepared.set(key, inputs);
      options.log?.(`applied the run's harmonised preprocessing (${spec.columns.length} input columns, schema ${spec.schema.name} v${spec.schema.version}, from query ${spec.queryId})`);
    }
    return inputs;
  };
  const modelFor = (task: TaskHeader): LocalModel => {
    const key = JSON.stringify(task.model);
    let model = models.get(key);
    if (!model) models.set(key, (model = createLocalModel(task.model)));
    return model;
  };
  return {
    async train(task: TaskHeader, global: Parameters) {
      const model = modelFor(task);
      // A different shuffle each round and member, reproducible from the run's seed.
      const seed = (task.config.seed * 1_000_003 + task.round * 7919 + (options.memberSeed ?? 0)) | 0;
      const started = Date.now();
      const meter = options.meter?.();
      const privacy = task.config.privacy;
      const { onEpoch } = options;
      const result = await model.train(global, inputsFor(task).train, { ...task.config, seed }, {
        ...(onEpoch ? { onEpoch: (epoch: number, loss: number, accuracy: number) => onEpoch(task, epoch, loss, accuracy) } : {}),
        // Sample-level DP: DP-SGD on this member's records.
        ...(privacy?.level === 'sample' ? { dpSgd: { clippingNorm: privacy.clippingNorm, noiseMultiplier: privacy.noiseMultiplier } } : {}),
      });
      options.log?.(`round ${task.round}: trained ${result.numExamples} examples × ${task.config.epochs} epochs in ${((Date.now() - started) / 1000).toFixed(1)} s, loss ${(result.metrics.loss ?? NaN).toFixed(4)}`);
      // Under differential privacy the training loss and accuracy are raw functions of the
      // member's records, outside the guarantee: they stay here.
      const metrics: Record<string, number> = privacy ? { trainSeconds: (Date.now() - started) / 1000 } : { ...result.metrics, trainSeconds: (Date.now() - started) / 1000 };
      // Work and energy depend on the data's size only, which the descriptor already makes public.
      metrics.examplesProcessed = privacy ? result.numExamples * task.config.epochs : result.examplesProcessed;
      if (meter) Object.assign(metrics, meter.stop());
      let parameters = result.parameters;
      if (privacy?.level === 'client' && privacy.mode === 'distributed') {
        // Client-level DP without a trusted coordinator: clip the update and add this member's noise share here.
        const out = privatizeUpdate(global.data, parameters.data, {
          clippingNorm: privacy.clippingNorm,
          noiseStddev: privacy.noiseStddev,
          ...(privacy.indicatorNoiseStddev !== undefined ? { indicatorNoiseStddev: privacy.indicatorNoiseStddev } : {}),
        });
        parameters = { specs: parameters.specs, data: out.parameters };
        if (privacy.indicatorNoiseStddev !== undefined) metrics[UNCLIPPED_METRIC] = out.unclipped;
      }
      return { parameters, numExamples: result.numExamples, metrics };
    },
    async evaluate(task: TaskHeader, global: Parameters) {
      return modelFor(task).evaluate(global, inputsFor(task).holdout);
    },
  };
}
