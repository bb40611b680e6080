// The robust-aggregation scenario with real training: a consortium of members on shares of
// MNIST, some of them malicious (attacks.ts), trains a small MLP through a real coordinator
// over loopback HTTP with TF.js members, and the coordinator scores every round's global
// model on the global MNIST test set. One run = one (attack, defence) pair; the test
// (test/robust-training.test.ts) and the benchmark (bench/robust-scenario.ts) both call
// runRobustScenario.
//
// Members 0 … members − malicious − 1 are honest, the last `malicious` attack. With attack
// 'none' the attackers stay away: the honest-only baseline trains on exactly the honest
// members' data, so any gap to it is the attack's doing (or the defence's cost).

import * as tf from '@tensorflow/tfjs';
import { createCoordinator } from '../../src/coordinator/server.js';
import { seededRandom, shuffle } from '../../src/core/random.js';
import { type Dataset, type MemberData, subset } from '../../src/data/dataset.js';
import { loadDataset, loadMemberData } from '../../src/data/spec.js';
import { initBackend } from '../../src/model/backend.js';
import { buildModel, initialParameters } from '../../src/model/build.js';
import { evaluate } from '../../src/model/train.js';
import { setParameters } from '../../src/model/weights.js';
import { CoordinatorClient } from '../../src/node/client.js';
import { runMember, type TaskHandler } from '../../src/node/member.js';
import { energyMeter } from '../../src/node/energy.js';
import { createTfjsHandler } from '../../src/node/tfjs-handler.js';
import { RunConfigSchema, type ModelSpec, type RunConfig, type RunConfigInput, type StrategySpec } from '../../src/protocol/messages.js';
import { SqliteStorage } from '../../src/storage/sqlite.js';
import type { RunEvent } from '../../src/storage/storage.js';
import { labelFlip, scaled, signFlip } from './attacks.js';

export const ATTACKS = ['none', 'sign-flip', 'scaled', 'label-flip', 'label-flip+scaled'] as const;
export type AttackName = (typeof ATTACKS)[number];

/** How the coordinator aggregates: a strategy, optionally behind update validation. */
export interface Defence {
  /** Name in tables, e.g. 'multikrum' or 'fedavg+validation'. */
  label: string;
  strategy: { name: StrategySpec['name']; options?: Record<string, unknown> };
  updateValidation?: { maxNormRatio?: number; reputationDecay?: number };
}

export const FEDAVG: Defence = { label: 'fedavg', strategy: { name: 'fedavg' } };

export interface RobustScenarioOptions {
  /** Default 'none' (honest members only). */
  attack?: AttackName;
  /** Default plain FedAvg. */
  defence?: Defence;
  /** Members the data is split over, attackers included. Default 7. */
  members?: number;
  /** How many of them attack (the last ones). Default 2. */
  malicious?: number;
  /** s of sign-flip (θ − s·Δ) and f of scaled / label-flip+scaled (θ + f·Δ). Default 5. */
  attackScale?: number;
  /** Default 5. */
  rounds?: number;
  /** Hidden layer widths of the MLP. Default [32]. */
  hidden?: number[];
  /** Local training. Default 1 epoch, batch 32, SGD with learning rate 0.1. */
  train?: { epochs?: number; batchSize?: number; learningRate?: number };
  /** Train on only this many of each member's training examples (a seeded random subset). Default all (~1030 each with 7 members). */
  examplesPerMember?: number;
  /** How MNIST is split: 'iid' (default) or 'dirichlet' label skew with `alpha` (default 1, mild). */
  partition?: 'iid' | 'dirichlet';
  alpha?: number;
  /** Seed of the split, the initial model and the members' shuffles. Default 1. */
  seed?: number;
  /** Size of the global test set the coordinator scores on. Default 1000. */
  testSize?: number;
  /** Receives the coordinator's run events and the members' log lines. Default: discarded. */
  log?: (line: string) => void;
  /** Give up (with the last log lines in the error) when the run takes longer. Default 600 000 ms. */
  timeoutMs?: number;
}

export interface RobustScenarioResult {
  attack: AttackName;
  defence: string;
  /** Test accuracy of the final global model. */
  accuracy: number;
  /** Test accuracy after each round. */
  accuracyByRound: number[];
  /** Test cross-entropy of the final global model. */
  loss: number;
  /** Updates refused by update validation over the whole run (0 without it). */
  rejected: number;
  /** Updates the coordinator aggregated over the whole run. */
  participants: number;
  seconds: number;
}

const OPERATOR = 'op-robust-scenario';

// Reused across runs: TF.js models are not freed by garbage collection, and a matrix of
// runs would otherwise build 7 new models each time.
const handlers = new Map<string, TaskHandler>();
const evaluators = new Map<string, tf.LayersModel>();
const testSets = new Map<number, Dataset>();

function dataSpec(o: Required<Pick<RobustScenarioOptions, 'members' | 'partition' | 'alpha' | 'seed' | 'testSize'>>, member: number): string {
  const skew = o.partition === 'dirichlet' ? `,partition=dirichlet,alpha=${o.alpha}` : ',partition=iid';
  return `mnist:member=${member},members=${o.members}${skew},seed=${o.seed},test=${o.testSize}`;
}

function sampleTrain(data: MemberData, count: number | undefined, seed: number, member: number): MemberData {
  if (count === undefined || count >= data.train.y.length) return data;
  // Shares are stored in index order, which for MNIST is class order: draw, don't slice.
  const picked = shuffle(Array.from({ length: data.train.y.length }, (_, i) => i), seededRandom(seed, 0x5ca1e, member)).slice(0, count);
  const train = subset(data.train, picked);
  return { ...data, train, descriptor: { ...data.descriptor, numExamples: train.y.length } };
}

function memberHandler(spec: string, data: MemberData, poisoned: boolean, memberSeed: number): TaskHandler {
  const key = `${spec}|${data.train.y.length}|${poisoned ? 'flipped' : 'clean'}`;
  let handler = handlers.get(key);
  if (!handler) handlers.set(key, (handler = createTfjsHandler(poisoned ? labelFlip(data) : data, { memberSeed, meter: energyMeter() })));
  return handler;
}

function attackerHandler(attack: AttackName, honest: TaskHandler, poisoned: TaskHandler, scale: number): TaskHandler {
  switch (attack) {
    case 'sign-flip':
      return signFlip(honest, scale);
    case 'scaled':
      return scaled(honest, scale);
    case 'label-flip':
      return poisoned;
    case 'label-flip+scaled':
      return scaled(poisoned, scale);
    case 'none':
      return honest;
  }
}

function evaluatorFor(model: ModelSpec): tf.LayersModel {
  const key = JSON.stringify(model);
  let evaluator = evaluators.get(key);
  if (!evaluator) evaluators.set(key, (evaluator = buildModel(model)));
  return evaluator;
}

async function testSet(size: number): Promise<Dataset> {
  let data = testSets.get(size);
  if (!data) testSets.set(size, (data = await loadDataset(`mnist:test,test=${size}`)));
  return data;
}

async function finishWithin(work: Promise<void>, ms: number, onTimeout: () => Error): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs one (attack, defence) federation to the end and reports the global model's test accuracy. */
export async function runRobustScenario(options: RobustScenarioOptions = {}): Promise<RobustScenarioResult> {
  const started = Date.now();
  const attack = options.attack ?? 'none';
  const defence = options.defence ?? FEDAVG;
  const split = {
    members: options.members ?? 7,
    partition: options.partition ?? 'iid',
    alpha: options.alpha ?? 1,
    seed: options.seed ?? 1,
    testSize: options.testSize ?? 1000,
  };
  const malicious = options.malicious ?? 2;
  const scale = options.attackScale ?? 5;
  const honestCount = split.members - malicious;
  const enrolled = attack === 'none' ? honestCount : split.members;
  // The last lines are kept whatever options.log says: a run that fails or stalls reports them.
  const recent: string[] = [];
  const log = (line: string): void => {
    recent.push(line);
    if (recent.length > 30) recent.shift();
    options.log?.(line);
  };
  const failure = (message: string): Error => new Error(`${message}\nlast log lines:\n  ${recent.join('\n  ')}`);

  await initBackend();
  const test = await testSet(split.testSize);
  const handlersInOrder: { name: string; data: MemberData; handler: TaskHandler }[] = [];
  for (let i = 0; i < enrolled; i++) {
    const spec = dataSpec(split, i);
    const data = sampleTrain(await loadMemberData(spec), options.examplesPerMember, split.seed, i);
    const honest = memberHandler(spec, data, false, i);
    if (i < honestCount) {
      handlersInOrder.push({ name: `member-${i}`, data, handler: honest });
    } else {
      const poisoned = attack.startsWith('label-flip') ? memberHandler(spec, data, true, i) : honest;
      handlersInOrder.push({ name: `attacker-${i}`, data, handler: attackerHandler(attack, honest, poisoned, scale) });
    }
  }

  log(`scenario: ${attack} against ${defence.label}: ${enrolled} members ready`);
  const storage = new SqliteStorage(':memory:');
  await storage.migrate();
  const coordinator = await createCoordinator({
    storage,
    operatorToken: OPERATOR,
    initialParameters: async (config: RunConfig) => initialParameters(config.model, config.seed),
    serverEvaluate: async (config: RunConfig, parameters) => {
      const model = evaluatorFor(config.model);
      setParameters(model, parameters);
      const result = await evaluate(model, test);
      return { loss: result.loss, metrics: { accuracy: result.accuracy, numExamples: result.numExamples } };
    },
    retryDelayMs: 50,
    maxPollMs: 2000,
    board: { onlineWindowMs: 30_000, heartbeatTimeoutMs: 30_000 },
    onEvent: (e: RunEvent) => log(`coordinator: ${e.kind}: ${e.message}`),
  });
  const aborts: AbortController[] = [];
  try {
    const url = await coordinator.listen(0, '127.0.0.1');
    for (const m of handlersInOrder) {
      const abort = new AbortController();
      aborts.push(abort);
      void runMember({
        client: new CoordinatorClient(url),
        name: m.name,
        dataset: m.data.descriptor,
        handler: m.handler,
        signal: abort.signal,
        pollMs: 1000,
        heartbeatMs: 1000,
        log: (line: string) => log(`${m.name}: ${line}`),
      }).catch((error: unknown) => log(`${m.name} stopped: ${error instanceof Error ? error.message : String(error)}`));
    }

    const config: RunConfigInput = {
      name: `robust ${attack} ${defence.label}`,
      model: { family: 'mlp', inputShape: [784], hidden: options.hidden ?? [32], classes: 10 },
      strategy: { name: defence.strategy.name, options: defence.strategy.options ?? {} },
      rounds: options.rounds ?? 5,
      // Every enrolled member trains every round; the test set, not members' holdouts, scores the model.
      minAvailableMembers: enrolled,
      minTrainMembers: enrolled,
      fractionEvaluate: 0,
      minEvaluateMembers: 0,
      train: { epochs: 1, batchSize: 32, learningRate: 0.1, ...options.train, seed: split.seed },
      roundDeadlineSeconds: 120,
      maxRoundAttempts: 1,
      seed: split.seed,
      ...(defence.updateValidation ? { updateValidation: defence.updateValidation } : {}),
    };
    const response = await fetch(`${url}/v1/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${OPERATOR}`, 'content-type': 'application/json' },
      body: JSON.stringify(RunConfigSchema.parse(config)),
    });
    if (!response.ok) throw failure(`the coordinator refused the run (${response.status}): ${await response.text()}`);
    const { runId } = (await response.json()) as { runId: string };
    log(`scenario: run ${runId} started`);
    await finishWithin(coordinator.idle(), options.timeoutMs ?? 600_000, () => failure(`run ${runId} (${attack}, ${defence.label}) did not finish within ${options.timeoutMs ?? 600_000} ms`));
    const run = await storage.getRun(runId);
    if (run?.status !== 'completed') throw failure(`run ${runId} (${attack}, ${defence.label}) ended ${run?.status ?? 'missing'}: ${run?.error ?? ''}`);
    const rounds = await storage.listRounds(runId);
    const accuracyByRound = rounds.map((r) => r.serverEval?.metrics['accuracy'] ?? NaN);
    const last = rounds[rounds.length - 1]!;
    return {
      attack,
      defence: defence.label,
      accuracy: accuracyByRound[accuracyByRound.length - 1]!,
      accuracyByRound,
      loss: last.serverEval?.loss ?? NaN,
      rejected: rounds.reduce((n, r) => n + (r.trainMetrics['rejected'] ?? 0), 0),
      participants: rounds.reduce((n, r) => n + r.participants.length, 0),
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    for (const abort of aborts) abort.abort();
    await coordinator.close();
    await storage.close();
  }
}
