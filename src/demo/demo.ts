// The embedded consortium that `npm start` runs: a coordinator and N member organizations
// as separate OS processes on loopback, each holding its own non-IID share of real MNIST
// digits, training one classifier with a federated strategy. Afterwards the same model is
// trained on the pooled data (the centralized baseline, which a real consortium could not
// build) for comparison. The coordinator keeps members' updates, so the summary also values
// each member's contribution (exact round-wise Shapley values of test accuracy) and gives
// the run's CO₂e.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Dataset } from '../data/dataset.js';
import { loadDataset, loadMemberData } from '../data/spec.js';
import { initBackend } from '../model/backend.js';
import { buildModel, initialParameters } from '../model/build.js';
import { createLocalModel } from '../model/local-model.js';
import { evaluate, trainLocal } from '../model/train.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { closestName } from '../protocol/problems.js';
import { ModelSpecSchema, type RunConfigInput } from '../protocol/messages.js';
import type { MemberRecord, MemberRoundMetrics, RoundSummary, RunRecord } from '../storage/storage.js';
import { formatRound, watchRun } from '../cli/run-actions.js';
import type { ContributionReport } from '../coordinator/contributions.js';
import type { RunFootprint } from '../coordinator/footprint.js';
import { operatorRequest } from '../cli/operator-api.js';
import { DEMO_DELTA, type DemoOptions } from './options.js';
import { ANALYTICS_DEMO, DEMO_TASKS, DEMO_TASK_NAMES, type DataChoice, type DemoTask, type TaskSettings } from './tasks.js';

export interface DemoSummary {
  /** The demo task (tasks.ts). */
  task: string;
  rounds: number;
  members: number;
  /** What the task is measured by: test accuracy, or the RMSE of predicted ratings. */
  metric: 'accuracy' | 'rmse';
  /** The federated model's final value of `metric`, and the centralised baseline's (null without one). */
  score: number;
  centralizedScore: number | null;
  seconds: number;
  bytesPerMemberPerRound: number;
  /** With --secure or --dp: what privacy cost, measured against the same run without it. */
  privacy?: {
    secureAggregation: boolean;
    differentialPrivacy: 'sample' | null;
    /** The least DP-SGD noise multiplier a member trained at (each member's is calibrated to its budget). */
    noiseMultiplier: number | null;
    /** The largest ε any member dataset spent, at δ. */
    epsilon: number | null;
    delta: number | null;
    /** `metric` of the same run without privacy, and how much worse the private run did. */
    scoreWithoutPrivacy: number;
    cost: number;
  };
  /** Each member's round-wise Shapley value of test accuracy (as a fraction); null when unavailable (secure aggregation). */
  contributions: Record<string, number> | null;
  /** CO₂e of the (first) federated run, training and network, in grams. */
  co2Grams: number;
}

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../../bin/concord.mjs');

export async function runDemo(options: DemoOptions): Promise<DemoSummary & { runId: string; db: string }> {
  const { log } = options;
  // The task is checked before the previous demo's state is wiped: a typo loses nothing.
  const task = DEMO_TASKS[options.task];
  if (!task) {
    const known = [...DEMO_TASK_NAMES, ANALYTICS_DEMO.name];
    const meant = closestName(options.task, known);
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `unknown demo task "${options.task}"; ${meant ? `did you mean "${meant}"? ` : ''}tasks: ${known.join(', ')}`, { details: { field: '--task', expected: known, received: options.task } });
  }
  const dir = resolve(options.dir);
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, 'logs'), { recursive: true });
  const db = join(dir, 'coordinator.sqlite');
  const token = `op_${randomBytes(24).toString('base64url')}`;
  const settings: TaskSettings = {
    ...task.defaults,
    ...(options.rounds !== undefined ? { rounds: options.rounds } : {}),
    ...(options.epochs !== undefined ? { epochs: options.epochs } : {}),
    ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
    ...(options.learningRate !== undefined ? { learningRate: options.learningRate } : {}),
  };
  const choice: DataChoice = { members: options.members, partition: options.partition, alpha: options.alpha, seed: options.seed, testSize: options.testSize };
  const children: ChildProcess[] = [];
  const stopAll = (): void => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  };
  process.once('exit', stopAll);

  try {
    log(`starting a coordinator and ${options.members} member organizations as separate processes (logs in ${join(dir, 'logs')})`);
    const evalData = task.evaluation === 'members' ? [] : ['--eval-data', task.data(choice, 'test')];
    const coordinator = spawn(process.execPath, [CLI, 'coordinator', '--port', '0', '--db', db, '--operator-token', token, ...evalData, '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(coordinator);
    coordinator.stderr!.pipe(createWriteStream(join(dir, 'logs', 'coordinator.log')));
    const url = await listeningUrl(coordinator);
    log(`coordinator listening on ${url}`);
    log(`dashboard: ${url}/?token=${token}`);
    log(`a browser can join as one more member at ${url}/join (with a folder of digits from \`npx concord data images --data mnist:member=0,members=20,seed=9 --out digits\`)`);

    const names = Array.from({ length: options.members }, (_, i) => `member-${String.fromCharCode(97 + (i % 26))}${i >= 26 ? i : ''}`);
    names.forEach((name, i) => {
      const node = spawn(process.execPath, [CLI, 'node', '--coordinator', url, '--name', name, '--data', task.data(choice, { member: i }), '--state-dir', join(dir, 'nodes')], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      node.stderr!.pipe(createWriteStream(join(dir, 'logs', `${name}.log`)));
      children.push(node);
    });
    await waitForMembers(url, token, options.members, children);

    const { members } = await operatorRequest<{ members: MemberRecord[] }>(url, token, 'GET', '/v1/members');
    for (const m of members) log(`  ${m.name}: ${m.dataset.numExamples} training examples, ${m.dataset.numHoldout} holdout (${m.dataset.name})`);

    const plain: RunConfigInput = {
      name: `${task.name}-demo`,
      model: task.model(),
      strategy: { name: options.strategy as 'fedavg', options: {} },
      rounds: settings.rounds,
      minAvailableMembers: options.members,
      minTrainMembers: Math.max(1, Math.ceil(options.members * 0.6)),
      fractionTrain: 1,
      train: { epochs: settings.epochs, batchSize: settings.batchSize, learningRate: settings.learningRate, learningRateDecay: settings.learningRateDecay ?? 1, optimizer: settings.optimizer, proximalMu: 0, seed: options.seed },
      roundDeadlineSeconds: 120,
      seed: options.seed,
      // Members' updates are kept so the coordinator can value contributions afterwards.
      keepUpdates: true,
    };
    const privateRun = options.secure || options.dp;
    const config: RunConfigInput = privateRun
      ? {
          ...plain,
          name: `${task.name}-demo-private`,
          secureAggregation: options.secure,
          ...(options.secure ? { keepUpdates: false } : {}),
          ...(options.dp ? { train: { ...plain.train!, epochs: options.dpEpochs, batchSize: options.dpBatchSize, learningRate: options.dpLearningRate, learningRateDecay: options.dpLearningRateDecay } } : {}),
          // Each member's noise is calibrated to spend its whole budget over the run (never below --noise-multiplier).
          ...(options.dp ? { differentialPrivacy: { level: 'sample', calibration: 'budget', noiseMultiplier: options.noiseMultiplier, clippingNorm: options.clippingNorm, budget: { epsilon: options.epsilonBudget, delta: DEMO_DELTA } } } : {}),
        }
      : plain;
    const main = await federate(url, token, config, options, task);
    const sharing = await contributionsAndFootprint(url, token, main.runId, task.valuationRounds, log);
    let privacy: DemoSummary['privacy'];
    if (privateRun) {
      const { datasets } = await operatorRequest<{ datasets: { datasetId: string; epsilon: number }[] }>(url, token, 'GET', '/v1/privacy');
      log(`the same run without privacy, for comparison:`);
      const reference = await federate(url, token, plain, options, task);
      privacy = {
        secureAggregation: options.secure,
        differentialPrivacy: options.dp ? 'sample' : null,
        noiseMultiplier: options.dp ? options.noiseMultiplier : null,
        epsilon: options.dp ? Math.max(...datasets.map((d) => d.epsilon)) : null,
        delta: options.dp ? DEMO_DELTA : null,
        scoreWithoutPrivacy: reference.score,
        // Lower RMSE is better: the cost is always how much worse privacy made it.
        cost: task.metric === 'rmse' ? main.score - reference.score : reference.score - main.score,
      };
      if (options.dp) for (const d of datasets) log(`  ε spent by ${d.datasetId}: ${d.epsilon.toFixed(3)} of ${options.epsilonBudget} (δ=${DEMO_DELTA})`);
    }
    stopAll();

    let centralizedScore: number | null = null;
    if (options.baseline) {
      const epochs = task.baselineEpochs(settings);
      log(`centralized baseline: the same model on the pooled data of all members, ${epochs} epochs`);
      centralizedScore = task.evaluation === 'members' ? await centralizedOnHoldouts(task, settings, epochs, choice, options.seed, log) : await centralizedBaseline(task, settings, epochs, choice, options.seed, log);
    }
    const { rounds, score, seconds, bytesPerMemberPerRound, runId } = main;
    return { task: task.name, rounds, members: options.members, metric: task.metric, score, centralizedScore, seconds, bytesPerMemberPerRound, ...(privacy ? { privacy } : {}), ...sharing, runId, db };
  } finally {
    stopAll();
    process.removeListener('exit', stopAll);
  }
}

/** Runs one configuration to the end, printing a line per round. */
async function federate(url: string, token: string, config: RunConfigInput, options: DemoOptions, task: DemoTask): Promise<{ runId: string; rounds: number; score: number; seconds: number; bytesPerMemberPerRound: number }> {
  const started = Date.now();
  const { runId } = await operatorRequest<{ runId: string }>(url, token, 'POST', '/v1/runs', config);
  const privacy = [config.secureAggregation ? 'secure aggregation' : '', config.differentialPrivacy ? (config.differentialPrivacy.calibration === 'budget' ? `DP-SGD, each member's z calibrated to spend its budget (z ≥ ${config.differentialPrivacy.noiseMultiplier})` : `DP-SGD z=${config.differentialPrivacy.noiseMultiplier}`) : ''].filter(Boolean).join(', ');
  options.log(`run ${runId}: ${options.strategy} over ${options.members} members, ${config.rounds} rounds × ${config.train?.epochs} local epochs (lr ${config.train?.learningRate})${privacy ? `, with ${privacy}` : ''}`);
  const final: RunRecord = await watchRun(url, token, runId, (r: RoundSummary, total: number) => options.log(formatRound(r, total)));
  const seconds = (Date.now() - started) / 1000;
  if (final.status !== 'completed') throw new ConcordError(ErrorCode.INTERNAL, `run ${runId} ended ${final.status}: ${final.error ?? 'no reason given'}`);
  const { rounds } = await operatorRequest<{ rounds: RoundSummary[] }>(url, token, 'GET', `/v1/runs/${runId}`);
  const last = rounds[rounds.length - 1]!;
  const { members: perMember } = await operatorRequest<{ members: (MemberRoundMetrics & { round: number })[] }>(url, token, 'GET', `/v1/runs/${runId}/metrics`);
  // Members' evaluation aggregates their holdout losses weighted by examples: for a
  // regression that is the mean squared error over all their holdout rows.
  const score = task.evaluation === 'members' ? (task.metric === 'rmse' ? Math.sqrt(last.evalLoss ?? NaN) : (last.evalMetrics.accuracy ?? NaN)) : (last.serverEval?.metrics.accuracy ?? NaN);
  return { runId, rounds: last.round, score, seconds, bytesPerMemberPerRound: meanBytesPerMemberRound(perMember) };
}

/** Contributions valued by the coordinator on its test set, and the run's CO₂, with a line each per member. */
async function contributionsAndFootprint(url: string, token: string, runId: string, lastRounds: number | undefined, log: (line: string) => void): Promise<Pick<DemoSummary, 'contributions' | 'co2Grams'>> {
  log(`valuing contributions: round-wise Shapley values of test accuracy from the kept updates (exact, every coalition of ${lastRounds ? `the last ${lastRounds} rounds` : 'every round'})`);
  const c = await operatorRequest<ContributionReport>(url, token, 'GET', `/v1/runs/${runId}/contributions?method=auto&rewardPool=1000${lastRounds ? `&lastRounds=${lastRounds}` : ''}`);
  if (c.available) {
    log(`  ${c.evaluations} coalition models evaluated in ${c.seconds!.toFixed(1)} s; benefit shares of a pool of 1000:`);
    for (const [name, value] of Object.entries(c.values!)) log(`  ${name}: φ = ${(value * 100).toFixed(2)} accuracy points, share ${c.shares!.shares[name]!.toFixed(1)}`);
  } else {
    log(`  contributions unavailable: ${c.reason}`);
  }
  const f = await operatorRequest<RunFootprint>(url, token, 'GET', `/v1/runs/${runId}/footprint`);
  log(`energy and CO2e (training: declared power × time unless RAPL is readable; network: 0.06 kWh/GB):`);
  for (const m of f.members) log(`  ${m.name}: ${(m.trainKWh * 1000).toFixed(2)} Wh training (${m.energySource}), ${(m.networkBytes / 1e6).toFixed(1)} MB, ${m.co2Grams.toFixed(2)} gCO2e`);
  log(`  total ${(f.total.kWh * 1000).toFixed(2)} Wh, ${f.total.co2Grams.toFixed(2)} gCO2e; centralized alternative (estimate) ${f.centralized.co2Grams.toFixed(2)} gCO2e`);
  return { contributions: c.available ? c.values! : null, co2Grams: f.total.co2Grams };
}

function meanBytesPerMemberRound(rows: (MemberRoundMetrics & { round: number })[]): number {
  const perPair = new Map<string, number>();
  for (const r of rows) {
    const key = `${r.round}/${r.memberId}`;
    perPair.set(key, (perPair.get(key) ?? 0) + r.bytesIn + r.bytesOut);
  }
  const values = [...perPair.values()];
  return values.length ? Math.round(values.reduce((s, v) => s + v, 0) / values.length) : 0;
}

async function centralizedBaseline(task: DemoTask, settings: TaskSettings, epochs: number, choice: DataChoice, seed: number, log: (line: string) => void): Promise<number> {
  await initBackend();
  const pool = await loadDataset(task.data(choice, 'pool'));
  const test = await loadDataset(task.data(choice, 'test'));
  const model = buildModel(ModelSpecSchema.parse(task.model()), seed);
  const started = Date.now();
  await trainLocal(model, pool, { epochs, batchSize: settings.batchSize, learningRate: settings.learningRate, optimizer: settings.optimizer, proximalMu: 0, seed }, {
    onEpoch: (epoch: number, loss: number) => {
      if ((epoch + 1) % 5 === 0 || epoch + 1 === epochs) log(`  centralized epoch ${epoch + 1}/${epochs} · loss ${loss.toFixed(4)} · ${((Date.now() - started) / 1000).toFixed(1)} s`);
    },
  });
  const result = await evaluate(model, test);
  model.dispose();
  return result.accuracy;
}

/**
 * The baseline of a task its members evaluate: trained on the union of their train splits,
 * measured on the union of their holdouts (the rows the federation was measured on).
 */
async function centralizedOnHoldouts(task: DemoTask, settings: TaskSettings, epochs: number, choice: DataChoice, seed: number, log: (line: string) => void): Promise<number> {
  await initBackend();
  const shares = await Promise.all(Array.from({ length: choice.members }, (_, member) => loadMemberData(task.data(choice, { member }))));
  const union = (parts: Dataset[]): Dataset => ({ ...parts[0]!, x: concat(parts.map((d) => d.x)), y: Int32Array.from(parts.flatMap((d) => [...d.y])) });
  const pool = union(shares.map((s) => s.train));
  const holdout = union(shares.map((s) => s.holdout));
  const spec = ModelSpecSchema.parse(task.model());
  const model = createLocalModel(spec);
  let parameters = initialParameters(spec, seed);
  const learningRate = task.baselineLearningRate ?? settings.learningRate;
  const started = Date.now();
  for (let epoch = 0; epoch < epochs; epoch++) {
    const out = await model.train(parameters, pool, { epochs: 1, batchSize: settings.batchSize, learningRate, optimizer: settings.optimizer, proximalMu: 0, seed: seed + epoch });
    parameters = out.parameters;
    if ((epoch + 1) % 5 === 0 || epoch + 1 === epochs) log(`  centralized epoch ${epoch + 1}/${epochs} · loss ${out.metrics.loss!.toFixed(4)} · ${((Date.now() - started) / 1000).toFixed(1)} s`);
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

export async function listeningUrl(child: ChildProcess): Promise<string> {
  const lines = createInterface({ input: child.stdout! });
  return new Promise((resolvePromise, reject) => {
    const onExit = (code: number | null): void => reject(new ConcordError(ErrorCode.UNAVAILABLE, `coordinator exited with code ${code} before listening`));
    child.once('exit', onExit);
    lines.on('line', (line) => {
      try {
        const event = JSON.parse(line) as { event?: string; url?: string };
        if (event.event === 'listening' && event.url) {
          child.off('exit', onExit);
          resolvePromise(event.url);
        }
      } catch {
        // not an event line
      }
    });
  });
}

export async function waitForMembers(url: string, token: string, count: number, children: ChildProcess[]): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const dead = children.find((c) => c.exitCode !== null);
    if (dead) throw new ConcordError(ErrorCode.UNAVAILABLE, `a demo process exited early with code ${dead.exitCode}; see its log`);
    const { members } = await operatorRequest<{ members: (MemberRecord & { online: boolean })[] }>(url, token, 'GET', '/v1/members');
    if (members.filter((m) => m.online).length >= count) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new ConcordError(ErrorCode.UNAVAILABLE, `only some of the ${count} members came online within 120 s`);
}
