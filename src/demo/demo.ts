// The embedded consortium that `npm start` runs: a coordinator and N member organizations
// as separate OS processes on loopback, each holding its own non-IID share of real MNIST
// digits, training one classifier with a federated strategy. Alongside, a worker thread
// trains the same model on the pooled data (the centralized baseline, which a real
// consortium could not build) for comparison. The coordinator keeps members' updates, so
// the summary also values each member's contribution and gives the run's CO₂e; the run's
// HTML report and its exported model are written next to the database.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { closestName } from '../protocol/problems.js';
import type { RunConfigInput } from '../protocol/messages.js';
import type { MemberRecord, MemberRoundMetrics, RoundSummary, RunRecord } from '../storage/storage.js';
import { formatRound, watchRun } from '../cli/run-actions.js';
import type { ContributionReport } from '../coordinator/contributions.js';
import type { RunFootprint } from '../coordinator/footprint.js';
import type { RunReport } from '../coordinator/run-report.js';
import { operatorRequest } from '../cli/operator-api.js';
import type { Progress } from '../cli/progress.js';
import { startBaseline } from './baseline-worker.js';
import { DEMO_DELTA, DEMO_DP_ROUNDS, type DemoOptions } from './options.js';
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
  /** The federated run's best round by `metric`. */
  bestScore: number;
  /** Epochs the baseline trained (null without one). */
  baselineEpochs: number | null;
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
  /** Each member's contribution (accuracy as a fraction); null when unavailable (secure aggregation). */
  contributions: Record<string, number> | null;
  /** The valuation behind `contributions`, with its method and intervals where the method gives them. */
  valuation: ContributionReport;
  /** CO₂e of the (first) federated run, training and network, in grams. */
  co2Grams: number;
  footprint: RunFootprint;
  /** The run's HTML report and its exported TF.js model. */
  reportFile: string;
  modelDir: string;
}

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../../bin/concord.mjs');

/** How the demo values contributions: the coordinator's default method, with a benefit-sharing pool to show shares. */
const VALUATION_QUERY = 'rewardPool=1000';

export interface DemoResult extends DemoSummary {
  runId: string;
  db: string;
  /** The coordinator's address and operator token, while `keepServing` holds it up. */
  url: string;
  token: string;
  /** Stops the coordinator `keepServing` left running (a no-op otherwise). */
  stop(): void;
}

export async function runDemo(options: DemoOptions & { progress: Progress; keepServing?: boolean }): Promise<DemoResult> {
  const { progress } = options;
  const log = (line: string): void => progress.log(line);
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
  let coordinator: ChildProcess | null = null;
  const members: ChildProcess[] = [];
  const stopMembers = (): void => {
    for (const c of members) if (c.exitCode === null) c.kill('SIGTERM');
  };
  const stopAll = (): void => {
    stopMembers();
    if (coordinator?.exitCode === null) coordinator.kill('SIGTERM');
  };
  process.once('exit', stopAll);
  let baseline: ReturnType<typeof startBaseline> | null = null;
  let keptUp = false;

  try {
    log(`starting a coordinator and ${options.members} member organizations as separate processes (logs in ${join(dir, 'logs')})`);
    const evalData = task.evaluation === 'members' ? [] : ['--eval-data', task.data(choice, 'test')];
    coordinator = spawn(process.execPath, [CLI, 'coordinator', '--port', '0', '--db', db, '--operator-token', token, ...evalData, '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    coordinator.stderr!.pipe(createWriteStream(join(dir, 'logs', 'coordinator.log')));
    const url = await listeningUrl(coordinator);
    log(`coordinator listening on ${url}`);
    log(`dashboard: ${url}/?token=${token}`);
    log(`a browser can join as one more member at ${url}/join (it trains on a share of MNIST digits it draws itself, or a folder of digit images)`);

    const names = Array.from({ length: options.members }, (_, i) => `member-${String.fromCharCode(97 + (i % 26))}${i >= 26 ? i : ''}`);
    names.forEach((name, i) => {
      const node = spawn(process.execPath, [CLI, 'node', '--coordinator', url, '--name', name, '--data', task.data(choice, { member: i }), '--state-dir', join(dir, 'nodes')], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      node.stderr!.pipe(createWriteStream(join(dir, 'logs', `${name}.log`)));
      members.push(node);
    });
    await waitForMembers(url, token, options.members, [coordinator, ...members]);

    const { members: enrolled } = await operatorRequest<{ members: MemberRecord[] }>(url, token, 'GET', '/v1/members');
    for (const m of enrolled) log(`  ${m.name}: ${m.dataset.numExamples} training examples, ${m.dataset.numHoldout} holdout (${m.dataset.name})`);

    // The baseline trains in a worker thread while the members train: on a machine with
    // fewer cores than processes it takes some of their time, but the demo no longer waits
    // for it afterwards.
    const baselineEpochs = options.baseline ? task.baselineEpochs(settings) : null;
    if (baselineEpochs !== null) {
      const why = baselineEpochs < settings.rounds * settings.epochs ? task.baselineReason : 'as many as the federation trains';
      log(`centralized baseline, alongside: the same model on the pooled data of all members, ${baselineEpochs} epochs (${why})`);
      const bar = progress.task('centralized baseline', baselineEpochs, 'epochs');
      baseline = startBaseline({ task: task.name, settings, epochs: baselineEpochs, choice, seed: options.seed }, (epoch, _epochs, loss) => bar.update(epoch, `loss ${loss.toFixed(4)}`));
      baseline.result.then(
        (score) => bar.finish(`${task.metric} ${score.toFixed(4)}`),
        () => bar.finish('failed'),
      );
    }

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
          ...(options.dp ? { rounds: options.dpRounds ?? options.rounds ?? DEMO_DP_ROUNDS, train: { ...plain.train!, epochs: options.dpEpochs, batchSize: options.dpBatchSize, learningRate: options.dpLearningRate, learningRateDecay: options.dpLearningRateDecay } } : {}),
          // Each member's noise is calibrated to spend its whole budget over the run (never below --noise-multiplier).
          ...(options.dp ? { differentialPrivacy: { level: 'sample', calibration: 'budget', noiseMultiplier: options.noiseMultiplier, clippingNorm: options.clippingNorm, budget: { epsilon: options.epsilonBudget, delta: DEMO_DELTA } } } : {}),
        }
      : plain;
    const main = await federate(url, token, config, options, task);
    const sharing = await contributionsAndFootprint(url, token, main.runId, task.valuationRounds, progress);
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
    stopMembers();

    const centralizedScore = baseline ? await baseline.result : null;
    // The run page and report compare the run with it (an audited claim, made by the operator).
    if (centralizedScore !== null && task.metric === 'accuracy') {
      await operatorRequest(url, token, 'POST', `/v1/runs/${main.runId}/baseline`, { metric: 'accuracy', value: centralizedScore, description: `the same model trained by the demo on the pooled data of all ${options.members} members, ${baselineEpochs} epochs`, epochs: baselineEpochs! });
    }
    const reportFile = join(dir, 'report.html');
    const modelDir = join(dir, 'model');
    await writeReportAndModel(url, token, main.runId, db, sharing.valuation, reportFile, modelDir, progress);

    const { rounds, score, bestScore, seconds, bytesPerMemberPerRound, runId } = main;
    keptUp = options.keepServing === true;
    const result: DemoResult = {
      task: task.name,
      rounds,
      members: options.members,
      metric: task.metric,
      score,
      centralizedScore,
      bestScore,
      baselineEpochs,
      seconds,
      bytesPerMemberPerRound,
      ...(privacy ? { privacy } : {}),
      ...sharing,
      reportFile,
      modelDir,
      runId,
      db,
      url,
      token,
      stop: () => {
        stopAll();
        process.removeListener('exit', stopAll);
      },
    };
    return result;
  } finally {
    baseline?.cancel();
    if (!keptUp) {
      stopAll();
      process.removeListener('exit', stopAll);
    }
  }
}

/** The run's HTML report (with the contributions already valued) and its model as TF.js files. */
async function writeReportAndModel(url: string, token: string, runId: string, db: string, valuation: ContributionReport, reportFile: string, modelDir: string, progress: Progress): Promise<void> {
  const report = progress.task('report', 0, '');
  const data = await operatorRequest<RunReport>(url, token, 'GET', `/v1/runs/${runId}/report?contributions=false`);
  const { renderRunReport } = await import('../report/html.js');
  await writeFile(reportFile, renderRunReport({ ...data, contributions: valuation }));
  report.finish(reportFile);
  const model = progress.task('export', 0, '');
  const { exportRunModel } = await import('../cli/model-actions.js');
  const exported = await exportRunModel({ run: runId, out: modelDir, db });
  model.finish(`${join(modelDir, 'model.json')} (${exported.parameters} parameters, round ${exported.round})`);
}

/** Runs one configuration to the end, with a line per round and a bar with the ETA. */
async function federate(url: string, token: string, config: RunConfigInput, options: DemoOptions & { progress: Progress }, task: DemoTask): Promise<{ runId: string; rounds: number; score: number; bestScore: number; seconds: number; bytesPerMemberPerRound: number }> {
  const { progress } = options;
  const started = Date.now();
  const { runId } = await operatorRequest<{ runId: string }>(url, token, 'POST', '/v1/runs', config);
  const privacy = [config.secureAggregation ? 'secure aggregation' : '', config.differentialPrivacy ? (config.differentialPrivacy.calibration === 'budget' ? `DP-SGD, each member's z calibrated to spend its budget (z ≥ ${config.differentialPrivacy.noiseMultiplier})` : `DP-SGD z=${config.differentialPrivacy.noiseMultiplier}`) : ''].filter(Boolean).join(', ');
  progress.log(`run ${runId}: ${options.strategy} over ${options.members} members, ${config.rounds} rounds × ${config.train?.epochs} local epochs (lr ${config.train?.learningRate})${privacy ? `, with ${privacy}` : ''}`);
  const bar = progress.task('federated rounds', config.rounds!, 'rounds');
  const final: RunRecord = await watchRun(url, token, runId, (r: RoundSummary, total: number) => {
    progress.log(formatRound(r, total));
    bar.update(r.round, roundNote(r, task));
  });
  const seconds = (Date.now() - started) / 1000;
  if (final.status !== 'completed') {
    bar.finish(final.status);
    throw new ConcordError(ErrorCode.INTERNAL, `run ${runId} ended ${final.status}: ${final.error ?? 'no reason given'}`);
  }
  const { rounds } = await operatorRequest<{ rounds: RoundSummary[] }>(url, token, 'GET', `/v1/runs/${runId}`);
  const scores = rounds.map((r) => scoreOf(r, task));
  const score = scores[scores.length - 1]!;
  const bestScore = task.metric === 'rmse' ? Math.min(...scores) : Math.max(...scores);
  bar.finish(`${task.metric} ${score.toFixed(4)}`);
  const { members: perMember } = await operatorRequest<{ members: (MemberRoundMetrics & { round: number })[] }>(url, token, 'GET', `/v1/runs/${runId}/metrics`);
  return { runId, rounds: rounds[rounds.length - 1]!.round, score, bestScore, seconds, bytesPerMemberPerRound: meanBytesPerMemberRound(perMember) };
}

/** A round's value of the task's metric: the coordinator's test accuracy, or what members measured on their holdouts. */
function scoreOf(r: RoundSummary, task: DemoTask): number {
  // Members' evaluation aggregates their holdout losses weighted by examples: for a
  // regression that is the mean squared error over all their holdout rows.
  if (task.evaluation === 'members') return task.metric === 'rmse' ? Math.sqrt(r.evalLoss ?? NaN) : (r.evalMetrics.accuracy ?? NaN);
  return r.serverEval?.metrics.accuracy ?? NaN;
}

function roundNote(r: RoundSummary, task: DemoTask): string {
  const value = scoreOf(r, task);
  return Number.isFinite(value) ? `${task.metric} ${value.toFixed(4)}` : '';
}

/** Contributions valued by the coordinator on its test set, and the run's CO₂, with a line each per member. */
async function contributionsAndFootprint(url: string, token: string, runId: string, lastRounds: number | undefined, progress: Progress): Promise<Pick<DemoSummary, 'contributions' | 'valuation' | 'co2Grams' | 'footprint'>> {
  const log = (line: string): void => progress.log(line);
  const bar = progress.task('valuing contributions', 0, '');
  const c = await operatorRequest<ContributionReport>(url, token, 'GET', `/v1/runs/${runId}/contributions?${VALUATION_QUERY}${lastRounds ? `&lastRounds=${lastRounds}` : ''}`);
  bar.finish(c.available ? `${c.method}, ${c.evaluations} coalition models evaluated` : 'unavailable');
  if (c.available) {
    log(`contributions (${c.utility}); benefit shares of a pool of 1000:`);
    for (const [name, value] of Object.entries(c.values!).sort(([a], [b]) => a.localeCompare(b))) {
      const u = c.uncertainty?.[name];
      const interval = u ? ` (95 % interval ${(u.low * 100).toFixed(2)} to ${(u.high * 100).toFixed(2)})` : '';
      log(`  ${name}: φ = ${(value * 100).toFixed(2)} accuracy points${interval}, share ${c.shares!.shares[name]!.toFixed(1)}`);
    }
  } else {
    log(`contributions unavailable: ${c.reason}`);
  }
  const f = await operatorRequest<RunFootprint>(url, token, 'GET', `/v1/runs/${runId}/footprint`);
  log(`energy and CO2e (${f.assumptions[0]}):`);
  for (const m of f.members) log(`  ${m.name}: ${(m.trainKWh * 1000).toFixed(2)} Wh training (${m.energySource}), ${(m.networkBytes / 1e6).toFixed(1)} MB, ${m.co2Grams.toFixed(2)} gCO2e`);
  log(`  total ${(f.total.kWh * 1000).toFixed(2)} Wh, ${f.total.co2Grams.toFixed(2)} gCO2e; centralized alternative (estimate) ${f.centralized.co2Grams.toFixed(2)} gCO2e`);
  return { contributions: c.available ? c.values! : null, valuation: c, co2Grams: f.total.co2Grams, footprint: f };
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
