// Harmonised preprocessing as a run extension (run configuration `harmonise`): before the
// run's first round the coordinator asks the members for the federated statistics of every
// model input — one summary analytics query, approved, audited, min-count (or DP) protected
// like any other — turns them into one transform per input column (data/schema/
// preprocessing.ts), records it in the run (event "harmonisation"), and sends it with every
// train and evaluate task, so every member standardises, one-hot encodes and imputes the same
// way (node/tfjs-handler.ts). A resumed run reuses what it recorded. Without the consortium
// schema, or when a statistic is suppressed, the run is refused or ends with the reason.

import { buildPreprocessing, inputFields } from '../data/schema/preprocessing.js';
import { featureLayout } from '../data/schema/harmonise.js';
import type { DataSchema } from '../data/schema/schema.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { PreprocessingSchema, parseMessage, type Preprocessing } from '../protocol/messages.js';
import type { Problem } from '../protocol/problems.js';
import { sizeOf } from '../protocol/tensors.js';
import type { AnalyticsService } from './analytics-service.js';
import type { RunExtension } from './run-compiler.js';

export const HARMONISATION_EVENT = 'harmonisation';

export interface HarmonisationOptions {
  analytics: AnalyticsService;
  /** The consortium schema in force (the agreement's, else the coordinator's). */
  schema: () => DataSchema | undefined;
}

export function harmonisationExtension(options: HarmonisationOptions): RunExtension {
  return {
    field: 'harmonise',
    check(config) {
      const problems: Problem[] = [];
      const schema = options.schema();
      if (!schema) return [{ path: 'harmonise', message: 'harmonised preprocessing needs the consortium data schema (the agreement’s dataSchema, or the coordinator’s --data-schema); there is none' }];
      const width = featureLayout(schema).length;
      const shape = (config.model as { inputShape?: number[] }).inputShape;
      if (shape && sizeOf(shape) !== width) problems.push({ path: 'model.inputShape', message: `schema ${schema.name} v${schema.version} gives ${width} model inputs; the model takes [${shape.join(', ')}]` });
      return problems;
    },
    stages(run, _strategy, _grid, storage) {
      let spec: Preprocessing | undefined;
      const obtain = async (): Promise<Preprocessing> => {
        if (spec) return spec;
        const recorded = (await storage.listEvents(run.runId)).find((e) => e.kind === HARMONISATION_EVENT);
        if (recorded) return (spec = parseMessage(PreprocessingSchema, (JSON.parse(recorded.message) as { preprocessing: unknown }).preprocessing, 'recorded preprocessing'));
        const schema = options.schema();
        if (!schema) throw new ConcordError(ErrorCode.FORBIDDEN, 'harmonised preprocessing: the consortium data schema is gone', { details: { field: 'harmonise' } });
        const privacy = run.config.harmonise?.privacy;
        const record = await options.analytics.run({ type: 'summary', name: `harmonisation of ${run.config.name}`, fields: inputFields(schema), ...(privacy ? { privacy } : {}) }, `run:${run.runId}`);
        if (record.status !== 'completed') throw new ConcordError(ErrorCode.FORBIDDEN, `harmonised preprocessing: the federated statistics could not be computed (${record.error})`, { details: { field: 'harmonise', queryId: record.queryId } });
        const values = (record.result as { values: { key: string; value: number | null; suppressed?: string }[] }).values;
        spec = buildPreprocessing(schema, values, record.queryId);
        await storage.addEvent({ runId: run.runId, round: null, kind: HARMONISATION_EVENT, message: JSON.stringify({ preprocessing: spec }), at: Date.now() });
        return spec;
      };
      return {
        async select(_round, plan) {
          await obtain();
          return plan;
        },
        configure: (_round, i) => ({ ...i.config, preprocessing: spec! }),
        configureEvaluate: (_round, i) => ({ ...i.config, preprocessing: spec! }),
      };
    },
  };
}

/** The preprocessing a run recorded, if any (model export states it next to the model). */
export function recordedPreprocessing(events: readonly { kind: string; message: string }[]): Preprocessing | undefined {
  const e = events.find((x) => x.kind === HARMONISATION_EVENT);
  return e ? parseMessage(PreprocessingSchema, (JSON.parse(e.message) as { preprocessing: unknown }).preprocessing, 'recorded preprocessing') : undefined;
}
