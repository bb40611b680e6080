// `concord simulate`: a consortium of thousands of virtual members without a process per
// member. The coordinator is the real one — its database, round loop, strategies, DP and
// secure-aggregation paths, dashboard and API — with a MemoryGrid in place of the HTTP task
// board; members' tasks run sequentially in worker threads (or in this thread with
// --workers 0), each thread holding the state of the members it was recently asked, as the
// simulators of Flower and FedML do. Members are enrolled in the database like real ones,
// so the dashboard lists them and every round's metrics name them.

import { generateKeyPairSync } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { operatorRequest } from '../cli/operator-api.js';
import type { Progress } from '../cli/progress.js';
import { formatRound, watchRun } from '../cli/run-actions.js';
import { startCoordinatorService } from '../coordinator/service.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { DifferentialPrivacyConfigSchema, type RunConfigInput } from '../protocol/messages.js';
import { check } from '../protocol/problems.js';
import type { RoundSummary } from '../storage/storage.js';
import type { MemberRef } from '../strategies/strategy.js';
import { LocalExecutor } from './member-executor.js';
import { DeviceTimeExecutor } from './device-time.js';
import { MemoryGrid, type MemberExecutor } from './memory-grid.js';
import { DEFAULT_POPULATION, type SimulateOptions } from './options.js';
import { memberName, Population, type PopulationSpec } from './population.js';
import { SimulatedMembers } from './simulated-members.js';
import { WorkerPoolExecutor } from './worker-pool.js';

const ENROLL_BATCH = 1000;

export interface SimulationRound {
  round: number;
  trained: number;
  seconds: number;
  /** Seconds from the run's start to this round's commit (time to accuracy). */
  elapsed: number;
  accuracy: number | null;
}

export interface SimulationSummary {
  members: number;
  rounds: SimulationRound[];
  /** Test accuracy of the final model (the coordinator's 1,000 held-out digits). */
  accuracy: number | null;
  enrollSeconds: number;
  seconds: number;
  /** Peak resident memory of this process and its worker threads, in bytes. */
  peakRssBytes: number;
  runId: string;
  db: string;
  url: string;
  token: string;
  stop(): Promise<void>;
}

export async function simulate(options: SimulateOptions & { progress: Progress }): Promise<SimulationSummary> {
  const { progress } = options;
  checkOptions(options);
  const started = Date.now();
  const dir = resolve(options.dir);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const population: PopulationSpec = { ...DEFAULT_POPULATION, members: options.members, seed: options.seed, alpha: options.alpha, minExamples: options.minExamples, maxExamples: options.maxExamples };
  const people = new Population(population);
  const maxKept = options.secure ? options.maxKept : 0;
  if (options.secure && options.maxKept < Math.ceil((options.members * options.fraction) / Math.max(1, options.workers))) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `--max-kept ${options.maxKept} is below the members each thread serves in a secure round (${Math.ceil((options.members * options.fraction) / Math.max(1, options.workers))}); their secure-aggregation state would be dropped mid-round`, { details: { field: '--max-kept', expected: `>= ${Math.ceil((options.members * options.fraction) / Math.max(1, options.workers))}`, received: options.maxKept } });
  }
  const indexOf = new Map<string, number>();
  const executor: MemberExecutor =
    options.workers > 0
      ? new WorkerPoolExecutor({ population, workers: options.workers, maxKept, indexOf: (id) => indexOf.get(id) })
      : ((members) => new LocalExecutor((id) => (indexOf.has(id) ? members.handler(indexOf.get(id)!, id) : undefined)))(new SimulatedMembers(people, maxKept));
  const grid = new MemoryGrid({ executor: options.deviceSeconds ? new DeviceTimeExecutor(executor, { seconds: options.deviceSeconds, slowFraction: options.slowFraction ?? 0, slowFactor: options.slowFactor ?? 5, seed: options.seed }) : executor });
  const token = `op_sim_${Math.random().toString(36).slice(2)}`;
  const db = join(dir, 'coordinator.sqlite');
  const service = await startCoordinatorService({ db, port: options.port, operatorToken: token, evalData: `mnist:test,test=${population.test}`, memberBoard: grid, identityFile: join(dir, 'coordinator.identity.json'), ...(options.nats ? { nats: options.nats } : {}) });
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 250).unref();
  const stop = async (): Promise<void> => {
    clearInterval(sampler);
    await service.close();
    await grid.close();
  };
  try {
    progress.log(`coordinator with ${options.members} simulated members (${options.workers > 0 ? `${options.workers} worker threads` : 'trained in this thread'}); dashboard: ${service.url}/?token=${token}`);
    const enrollStarted = Date.now();
    const enrolling = progress.task('enrolling members', options.members, 'members');
    // In batches of one transaction each: one synchronous commit per member would dominate.
    for (let start = 0; start < options.members; start += ENROLL_BATCH) {
      const end = Math.min(start + ENROLL_BATCH, options.members);
      const refs = await service.storage.transaction(async (tx) => {
        const added: MemberRef[] = [];
        for (let i = start; i < end; i++) {
          const descriptor = people.descriptor(i);
          // A real key pair per member, as a node would generate: its private half is simply never used.
          const raw = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
          const record = await tx.addMember({ name: memberName(i, options.members), publicKey: Buffer.from(raw).toString('base64url'), dataset: descriptor });
          indexOf.set(record.memberId, i);
          added.push({ memberId: record.memberId, name: record.name, numExamples: descriptor.numExamples, numHoldout: descriptor.numHoldout, datasetName: descriptor.name });
        }
        return added;
      });
      for (const ref of refs) grid.add(ref);
      enrolling.update(end);
    }
    enrolling.finish();
    const enrollSeconds = (Date.now() - enrollStarted) / 1000;

    const trainPerRound = Math.max(1, Math.round(options.members * options.fraction));
    const config: RunConfigInput = {
      name: `simulation-${options.members}`,
      model: { family: 'mlp', inputShape: [784], hidden: [128], classes: 10, activation: 'relu' },
      strategy: { name: options.strategy as 'fedavg', options: options.strategyOptions ?? {} },
      rounds: options.rounds,
      fractionTrain: options.fraction,
      minTrainMembers: Math.max(1, Math.floor(trainPerRound * 0.9)),
      minAvailableMembers: options.members,
      fractionEvaluate: options.evaluateFraction,
      minEvaluateMembers: options.evaluateFraction > 0 ? 1 : 0,
      train: { epochs: options.epochs, batchSize: options.batchSize, learningRate: options.learningRate, optimizer: 'sgd', proximalMu: 0, seed: options.seed },
      // Sequential training of a whole round's members takes a while on few cores.
      roundDeadlineSeconds: 3600,
      seed: options.seed,
      secureAggregation: options.secure,
      ...(options.differentialPrivacy ? { differentialPrivacy: options.differentialPrivacy as RunConfigInput['differentialPrivacy'] } : {}),
      ...(options.shards !== undefined ? { hierarchicalAggregation: { shards: options.shards, ...(options.minGroupSize !== undefined ? { minGroupSize: options.minGroupSize } : {}) } } : {}),
      // A thousand updates a round are not kept unless asked: nothing here values contributions.
      keepUpdates: false,
    };
    const { runId } = await operatorRequest<{ runId: string }>(service.url, token, 'POST', '/v1/runs', config);
    progress.log(`run ${runId}: ${options.strategy}, ${trainPerRound} of ${options.members} members train each round (fraction ${options.fraction}), ${options.epochs} local epoch${options.epochs === 1 ? '' : 's'}${options.secure ? ', secure aggregation' : ''}${options.differentialPrivacy ? `, ${String(options.differentialPrivacy.level ?? 'sample')}-level differential privacy` : ''}${options.shards ? `, aggregated in ${options.shards} shards over NATS${options.secure ? ' (secure aggregation per shard group)' : ''}` : ''}`);
    const bar = progress.task('simulated rounds', options.rounds, 'rounds');
    const rounds: SimulationRound[] = [];
    const runStarted = Date.now();
    const final = await watchRun(service.url, token, runId, (r: RoundSummary, total: number) => {
      const accuracy = r.serverEval?.metrics.accuracy ?? null;
      rounds.push({ round: r.round, trained: r.participants.length, seconds: (r.completedAt - r.startedAt) / 1000, elapsed: (r.completedAt - runStarted) / 1000, accuracy });
      progress.log(formatRound(r, total));
      bar.update(r.round, accuracy === null ? '' : `test acc ${accuracy.toFixed(4)}`);
    });
    bar.finish(final.status);
    if (final.status !== 'completed') throw new ConcordError(ErrorCode.INTERNAL, `simulated run ${runId} ended ${final.status}: ${final.error ?? 'no reason given'}`);
    const summary: SimulationSummary = {
      members: options.members,
      rounds,
      accuracy: rounds.at(-1)?.accuracy ?? null,
      enrollSeconds,
      seconds: (Date.now() - started) / 1000,
      peakRssBytes: peakRss,
      runId,
      db,
      url: service.url,
      token,
      stop,
    };
    if (!options.keepServing) await stop();
    return summary;
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Refuses settings that could never run before anything is written or enrolled. */
function checkOptions(o: SimulateOptions): void {
  const problems: { field: string; message: string }[] = [];
  const integer = (field: string, value: number, min: number): void => {
    if (!Number.isInteger(value) || value < min) problems.push({ field, message: `expected an integer >= ${min}, got ${value}` });
  };
  integer('--members', o.members, 1);
  integer('--rounds', o.rounds, 1);
  integer('--epochs', o.epochs, 1);
  integer('--batch-size', o.batchSize, 1);
  integer('--workers', o.workers, 0);
  if (!(o.fraction > 0 && o.fraction <= 1)) problems.push({ field: '--fraction', message: `expected a fraction in (0, 1], got ${o.fraction}` });
  if (!(o.evaluateFraction >= 0 && o.evaluateFraction <= 1)) problems.push({ field: '--evaluate-fraction', message: `expected a fraction in [0, 1], got ${o.evaluateFraction}` });
  if (o.shards !== undefined) integer('--shards', o.shards, 1);
  if (o.minGroupSize !== undefined) integer('--min-group-size', o.minGroupSize, 1);
  if (o.minGroupSize !== undefined && o.shards === undefined) problems.push({ field: '--min-group-size', message: 'a minimum group size belongs to hierarchical aggregation; give --shards (and --nats) too' });
  if (o.deviceSeconds !== undefined && !(o.deviceSeconds >= 0 && Number.isFinite(o.deviceSeconds))) problems.push({ field: '--device-seconds', message: `expected a number >= 0, got ${o.deviceSeconds}` });
  if (o.slowFraction !== undefined && !(o.slowFraction >= 0 && o.slowFraction <= 1)) problems.push({ field: '--slow-fraction', message: `expected a fraction in [0, 1], got ${o.slowFraction}` });
  if (o.slowFactor !== undefined && !(o.slowFactor >= 1 && Number.isFinite(o.slowFactor))) problems.push({ field: '--slow-factor', message: `expected a number >= 1, got ${o.slowFactor}` });
  if (!o.deviceSeconds && (o.slowFraction || o.slowFactor !== undefined)) problems.push({ field: '--device-seconds', message: 'slow members need a device time to be slower than (--device-seconds > 0)' });
  if ((o.shards === undefined) !== (o.nats === undefined)) problems.push({ field: o.nats === undefined ? '--nats' : '--shards', message: 'hierarchical aggregation needs both --nats and --shards' });
  if (!(o.learningRate > 0)) problems.push({ field: '--learning-rate', message: `expected a number > 0, got ${o.learningRate}` });
  // Checked before the folder is wiped: a mistyped key loses nothing.
  if (o.differentialPrivacy !== undefined) {
    const checked = check(DifferentialPrivacyConfigSchema, o.differentialPrivacy, ['--differential-privacy']);
    if (!checked.ok) for (const p of checked.problems) problems.push({ field: p.path, message: p.message });
  }
  if (problems.length > 0) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `invalid simulation: ${problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`, { details: { field: problems[0]!.field, problems } });
  }
}
