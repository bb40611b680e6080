// What `concord export` and `concord fuse` do (registered in model-commands.ts).

import { modelRound } from '../coordinator/model-round.js';
import { fuseParameters } from '../core/fusion.js';
import { initBackend } from '../model/backend.js';
import { exportTfjsModel } from '../model/export.js';
import { readModelFiles, writeModelFiles } from '../model/model-files.js';
import { recordedPreprocessing } from '../coordinator/harmonisation.js';
import { writePreprocessing } from '../model/preprocessing-file.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { decodeFrame } from '../protocol/frame.js';
import { ModelSpecSchema, parseMessage } from '../protocol/messages.js';
import type { Parameters } from '../protocol/tensors.js';
import { openStorage } from '../storage/index.js';
import { operatorRequest, operatorToken } from './operator-api.js';

export interface ExportOptions {
  run: string;
  round?: number;
  out: string;
  db: string;
  coordinator?: string;
  token?: string;
}

export interface ExportResult {
  runId: string;
  round: number;
  out: string;
  parameters: number;
  preprocessing?: string;
}

export async function exportModel(opts: ExportOptions & { json?: boolean }): Promise<void> {
  const result = await exportRunModel(opts);
  process.stdout.write(opts.json ? JSON.stringify(result) + '\n' : `wrote round ${result.round} of run ${opts.run} to ${opts.out}/model.json (${result.parameters} parameters)\n`);
}

/** Writes a round's global model (the last by default) as a TF.js Layers model, from a coordinator or its database. */
export async function exportRunModel(opts: ExportOptions): Promise<ExportResult> {
  let exported: { model: unknown; round: number; parameters: Parameters };
  let events: { kind: string; message: string }[];
  if (opts.coordinator) {
    const query = opts.round === undefined ? '' : `?round=${opts.round}`;
    const bytes = await operatorRequest<Uint8Array>(opts.coordinator, operatorToken(opts.token), 'GET', `/v1/runs/${encodeURIComponent(opts.run)}/model${query}`);
    const frame = decodeFrame(bytes);
    exported = { model: frame.header.model, round: Number(frame.header.round), parameters: frame.parameters! };
    events = (await operatorRequest<{ events: { kind: string; message: string }[] }>(opts.coordinator, operatorToken(opts.token), 'GET', `/v1/runs/${encodeURIComponent(opts.run)}/events`)).events;
  } else {
    const storage = await openStorage(opts.db, { existing: true });
    try {
      const run = await storage.getRun(opts.run);
      if (!run) throw new ConcordError(ErrorCode.NOT_FOUND, `no run ${opts.run} in ${opts.db}`, { details: { field: '--run', received: opts.run } });
      const last = (await storage.lastRound(run.runId))?.round ?? 0;
      const round = modelRound(run, last, opts.round);
      const parameters = round === 0 ? await storage.getInitialParameters(run.runId) : (await storage.getCheckpoint(run.runId, round))?.parameters;
      if (!parameters) throw new ConcordError(ErrorCode.NOT_FOUND, `run ${run.runId} keeps no checkpoint of round ${round}: the coordinator's retention policy (--retention) dropped it; the last round's is always kept`, { details: { field: '--round', received: round, reason: 'not-retained' } });
      exported = { model: run.config.model, round, parameters };
      events = await storage.listEvents(run.runId);
    } finally {
      await storage.close();
    }
  }
  const spec = parseMessage(ModelSpecSchema, exported.model, 'model spec');
  await initBackend();
  await exportTfjsModel(spec, exported.parameters, opts.out);
  // A model trained on harmonised inputs states how to prepare them.
  const preprocessing = recordedPreprocessing(events);
  if (preprocessing) await writePreprocessing(opts.out, preprocessing);
  return { runId: opts.run, round: exported.round, out: opts.out, parameters: exported.parameters.data.length, ...(preprocessing ? { preprocessing: 'preprocessing.json' } : {}) };
}

export async function fuseModels(opts: { model: string[]; lambda?: number[]; out: string; json?: boolean }): Promise<void> {
  if (opts.model.length < 2) throw new ConcordError(ErrorCode.INVALID_ARGUMENT, 'fuse needs at least two --model directories', { details: { field: '--model', expected: '>= 2', received: opts.model.length } });
  const k = opts.model.length;
  let lambdas = opts.lambda ?? Array.from({ length: k }, () => 1 / k);
  if (k === 2 && lambdas.length === 1) lambdas = [lambdas[0]!, 1 - lambdas[0]!];
  if (lambdas.length !== k) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `give one --lambda per model (${k}), or a single λ for two models; got ${lambdas.length}`, { details: { field: '--lambda', expected: k, received: lambdas.length } });
  }
  const models = await Promise.all(opts.model.map((dir) => readModelFiles(dir)));
  const fused = fuseParameters(models.map((m) => m.parameters), lambdas);
  await writeModelFiles(opts.out, models[0]!.modelJson, fused);
  const result = { out: opts.out, models: opts.model, lambdas, parameters: fused.data.length };
  process.stdout.write(opts.json ? JSON.stringify(result) + '\n' : `fused ${k} models with λ = [${lambdas.join(', ')}] into ${opts.out}\n`);
}

