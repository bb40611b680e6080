// `concord contributions` (each member's contribution to a run and its benefit share) and
// `concord report` (the run's self-contained HTML report). Both read from a running
// coordinator (operator API) or, with --db, straight from its database; offline,
// contributions need the validation set named with --eval-data.

import type { Command } from 'commander';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { runContributions, VALUATION_METHODS, type ContributionOptions, type ContributionReport } from '../coordinator/contributions.js';
import { collectRunReport, type RunReport } from '../coordinator/run-report.js';
import { loadDataset } from '../data/spec.js';
import { initBackend } from '../model/backend.js';
import { createAccuracyEvaluator } from '../model/evaluator.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { RunConfig } from '../protocol/messages.js';
import type { Parameters } from '../protocol/tensors.js';
import { renderRunReport } from '../report/html.js';
import { openStorage } from '../storage/index.js';
import type { Storage } from '../storage/storage.js';
import { coordinatorUrl, fail, operatorRequest, operatorToken, parseIntOption, parseNumberOption } from './options.js';
import { withConn } from './run-commands.js';

interface SourceOptions {
  run: string;
  coordinator?: string;
  token?: string;
  db?: string;
  evalData?: string;
  method?: string;
  rewardPool?: number;
  permutations?: number;
  truncation?: number;
  lastRounds?: number;
  json?: boolean;
}

const withSource = (c: Command): Command =>
  withConn(c)
    .requiredOption('--run <id>', 'run id')
    .option('--db <path>', "read the coordinator's database instead of asking the coordinator")
    .option('--eval-data <spec>', 'with --db: the validation set contributions are measured on, e.g. mnist:test,test=1000 (the coordinator uses its --eval-data)')
    .option('--method <method>', `${VALUATION_METHODS.join(' | ')} (auto: exact up to 10 members per round, Monte Carlo beyond)`, 'auto')
    .option('--reward-pool <amount>', 'divide this reward in proportion to positive contributions', parseNumberOption('--reward-pool'))
    .option('--permutations <n>', 'Monte Carlo permutations per round (default 100)', parseIntOption('--permutations'))
    .option('--truncation <fraction>', 'Monte Carlo: stop a permutation once its prefix is within this fraction of the round\'s full value (TMC); default 0, unbiased', parseNumberOption('--truncation'))
    .option('--last-rounds <n>', 'value only the last N rounds (default: all)', parseIntOption('--last-rounds'));

function contributionOptions(opts: SourceOptions): ContributionOptions {
  if (opts.method !== undefined && !(VALUATION_METHODS as readonly string[]).includes(opts.method)) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `--method must be one of ${VALUATION_METHODS.join(', ')}, got ${JSON.stringify(opts.method)}`, {
      details: { field: '--method', expected: VALUATION_METHODS, received: opts.method },
    });
  }
  return {
    ...(opts.method !== undefined ? { method: opts.method as ContributionOptions['method'] } : {}),
    ...(opts.rewardPool !== undefined ? { rewardPool: opts.rewardPool } : {}),
    ...(opts.permutations !== undefined ? { permutations: opts.permutations } : {}),
    ...(opts.truncation !== undefined ? { truncationTolerance: opts.truncation } : {}),
    ...(opts.lastRounds !== undefined ? { lastRounds: opts.lastRounds } : {}),
  };
}

function query(options: ContributionOptions): string {
  const entries = Object.entries(options).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return entries.length ? `?${entries.join('&')}` : '';
}

/** Runs `fn` on the database named by --db with the accuracy of --eval-data (null without it). */
async function offline<T>(opts: SourceOptions, fn: (storage: Storage, accuracy: ((config: RunConfig, p: Parameters) => Promise<number>) | null) => Promise<T>): Promise<T> {
  let accuracy: ((config: RunConfig, p: Parameters) => Promise<number>) | null = null;
  if (opts.evalData) {
    await initBackend();
    const evaluator = createAccuracyEvaluator(await loadDataset(opts.evalData));
    accuracy = (config, p) => evaluator(config.model, p);
  }
  const storage = await openStorage(opts.db!);
  try {
    return await fn(storage, accuracy);
  } finally {
    await storage.close();
  }
}

export function formatContributions(report: ContributionReport): string {
  const lines: string[] = [];
  if (!report.available) {
    lines.push(`contributions unavailable: ${report.reason}`);
  } else {
    lines.push(`contributions (${report.method}, ${report.roundsValued} rounds, ${report.evaluations} evaluations, ${report.seconds?.toFixed(1)} s) in accuracy points:`);
    for (const [name, value] of Object.entries(report.values!).sort((a, b) => b[1] - a[1])) {
      const se = report.standardErrors?.[name];
      const share = report.shares ? `  share ${report.shares.shares[name]!.toFixed(2)}` : '';
      lines.push(`  ${name.padEnd(16)} ${(value * 100).toFixed(3).padStart(9)}${se !== undefined && se > 0 ? ` ± ${(se * 100).toFixed(3)}` : ''}${share}`);
    }
    if (report.shares) lines.push(`rule: ${report.shares.rule}${report.shares.undistributed > 0 ? `; undistributed ${report.shares.undistributed}` : ''}`);
  }
  lines.push('participation:');
  for (const p of report.participation) lines.push(`  ${p.name.padEnd(16)} ${p.rounds} rounds, ${p.examples} examples`);
  return lines.join('\n') + '\n';
}

export function registerSharingCommands(program: Command): void {
  withSource(program.command('contributions'))
    .description("each member's contribution to a run (round-wise Shapley values of validation accuracy, from stored updates) and its share of a reward pool")
    .action(async (opts: SourceOptions) => {
      try {
        const settings = contributionOptions(opts);
        const report = opts.db
          ? await offline(opts, (storage, accuracy) => runContributions(storage, opts.run, accuracy, settings))
          : await operatorRequest<ContributionReport>(coordinatorUrl(opts.coordinator), operatorToken(opts.token), 'GET', `/v1/runs/${encodeURIComponent(opts.run)}/contributions${query(settings)}`);
        process.stdout.write(opts.json ? JSON.stringify(report) + '\n' : formatContributions(report));
      } catch (error) {
        fail(error, Boolean(opts.json));
      }
    });

  withSource(program.command('report'))
    .description('write a self-contained HTML report of a run: accuracy, plan and execution, privacy spent, contributions and benefit shares, energy and CO2')
    .requiredOption('--out <file>', 'HTML file to write')
    .option('--no-contributions', 'leave contributions out (they evaluate many models)')
    .action(async (opts: SourceOptions & { out: string; contributions: boolean }) => {
      try {
        const settings = contributionOptions(opts);
        const report = opts.db
          ? await offline(opts, (storage, accuracy) => collectRunReport(storage, opts.run, { accuracy, contributions: opts.contributions ? settings : false }))
          : await operatorRequest<RunReport>(
              coordinatorUrl(opts.coordinator),
              operatorToken(opts.token),
              'GET',
              `/v1/runs/${encodeURIComponent(opts.run)}/report${opts.contributions ? query(settings) : '?contributions=false'}`,
            );
        await mkdir(dirname(opts.out), { recursive: true });
        await writeFile(opts.out, renderRunReport(report));
        const result = { runId: opts.run, out: opts.out, rounds: report.rounds.length, contributions: report.contributions?.available ?? false, co2Grams: report.footprint.total.co2Grams };
        process.stdout.write(opts.json ? JSON.stringify(result) + '\n' : `wrote the report of run ${opts.run} (${result.rounds} rounds) to ${opts.out}\n`);
      } catch (error) {
        fail(error, Boolean(opts.json));
      }
    });
}
