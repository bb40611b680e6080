// What `concord contributions` and `concord report` do (registered in sharing-commands.ts):
// from a running coordinator (operator API) or, with --db, straight from its database.

import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { runContributions, type ContributionOptions, type ContributionReport, type ValidationScorer } from '../coordinator/contributions.js';
import { collectRunReport, type RunReport } from '../coordinator/run-report.js';
import { loadDataset } from '../data/spec.js';
import { initBackend } from '../model/backend.js';
import { createCorrectnessEvaluator } from '../model/evaluator.js';
import type { RunConfig } from '../protocol/messages.js';
import type { Parameters } from '../protocol/tensors.js';
import { renderRunReport } from '../report/html.js';
import { openStorage } from '../storage/index.js';
import type { Storage } from '../storage/storage.js';
import { valuationMethod } from '../valuation/methods.js';
import { operatorRequest, operatorToken } from './operator-api.js';
import { coordinatorUrl } from './options.js';

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
  bootstrap?: number;
  json?: boolean;
}

function contributionOptions(opts: SourceOptions): ContributionOptions {
  return {
    ...(opts.method !== undefined ? { method: valuationMethod(opts.method, '--method') } : {}),
    ...(opts.bootstrap !== undefined ? { bootstrap: opts.bootstrap } : {}),
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

/** Runs `fn` on the database named by --db with the per-example correctness on --eval-data (null without it). */
async function offline<T>(opts: SourceOptions, fn: (storage: Storage, accuracy: ValidationScorer | null) => Promise<T>): Promise<T> {
  let accuracy: ValidationScorer | null = null;
  if (opts.evalData) {
    await initBackend();
    const evaluator = createCorrectnessEvaluator(await loadDataset(opts.evalData));
    accuracy = (config: RunConfig, p: Parameters) => evaluator(config.model, p);
  }
  const storage = await openStorage(opts.db!, { existing: true });
  try {
    return await fn(storage, accuracy);
  } finally {
    await storage.close();
  }
}

const points = (x: number) => (x * 100).toFixed(2);

export function formatContributions(report: ContributionReport): string {
  const lines: string[] = [];
  if (!report.available) {
    lines.push(`contributions unavailable: ${report.reason}`);
  } else {
    const boot = report.bootstrap?.resamples ? `, 95 % intervals from ${report.bootstrap.resamples} bootstrap resamples of ${report.bootstrap.validationExamples} validation examples` : '';
    lines.push(`contributions (${report.method}, ${report.roundsValued} rounds, ${report.evaluations} evaluations, ${report.seconds?.toFixed(1)} s${boot}) in accuracy points:`);
    for (const [name, value] of Object.entries(report.values!).sort((a, b) => b[1] - a[1])) {
      const u = report.uncertainty?.[name];
      const se = report.standardErrors?.[name];
      const spread = u ? ` [${points(u.low)}, ${points(u.high)}]` : se !== undefined && se > 0 ? ` ± ${points(se)}` : '';
      const share = report.shares ? `  share ${report.shares.shares[name]!.toFixed(2)}` : '';
      lines.push(`  ${name.padEnd(16)} ${points(value).padStart(8)}${spread}${share}`);
    }
    if (report.indistinguishable?.length) lines.push(`not distinguishable at 95 %: ${report.indistinguishable.map(([a, b]) => `${a} and ${b}`).join('; ')}`);
    if (report.about) lines.push(`rewards: ${report.about.rewards}; biases: ${report.about.biases} (${report.about.cites})`);
    if (report.shares) lines.push(`rule: ${report.shares.rule}${report.shares.undistributed > 0 ? `; undistributed ${report.shares.undistributed}` : ''}`);
  }
  lines.push('participation:');
  for (const p of report.participation) lines.push(`  ${p.name.padEnd(16)} ${p.rounds} rounds, ${p.examples} examples`);
  return lines.join('\n') + '\n';
}

export async function contributions(opts: SourceOptions): Promise<void> {
  const settings = contributionOptions(opts);
  const report = opts.db
    ? await offline(opts, (storage, accuracy) => runContributions(storage, opts.run, accuracy, settings))
    : await operatorRequest<ContributionReport>(coordinatorUrl(opts.coordinator), operatorToken(opts.token), 'GET', `/v1/runs/${encodeURIComponent(opts.run)}/contributions${query(settings)}`);
  process.stdout.write(opts.json ? JSON.stringify(report) + '\n' : formatContributions(report));
}

export async function report(opts: SourceOptions & { out: string; contributions: boolean }): Promise<void> {
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
}

