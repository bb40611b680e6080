// The member's own privacy ledger. A member with a budget does not trust the coordinator
// to keep it: before every training task it works out what the task would spend on its
// dataset, refuses (declines the task) when that would exceed its budget or when the
// task asks for no differential privacy at all, and records the spend in a file of its
// own before it trains — so a crash can only over-count, never under-count.
//
// What it charges:
// - sample level (DP-SGD on its own data): q = B/n, E·⌈n/B⌉ steps at multiplier z — all
//   under the member's control, so exact;
// - client level: one step at multiplier z with q = 1. The coordinator books q = m/N for
//   amplification by sampling, but a member cannot verify that it was sampled at random,
//   so its own ledger assumes it was not.

import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { sampleLevelCharge } from '../privacy/dp/charges.js';
import { PrivacyBudgetLedger, type PrivacyBudget, type PrivacyCharge } from '../privacy/dp/budget.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { TaskHeader } from '../protocol/messages.js';
import type { TaskHandler } from './member.js';

export interface PrivacyGuardOptions {
  /** The member's budget for this dataset. */
  budget: PrivacyBudget;
  datasetId: string;
  numExamples: number;
  /** Where the ledger is kept between runs and restarts. */
  ledgerFile: string;
  log?: (line: string) => void;
}

export async function loadLedger(file: string): Promise<PrivacyBudgetLedger> {
  try {
    return PrivacyBudgetLedger.fromJSON(JSON.parse(await readFile(file, 'utf8')));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new PrivacyBudgetLedger();
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `privacy ledger ${file} is unreadable; refusing to train rather than forget what was spent`, { details: { field: 'ledgerFile' }, cause: error });
  }
}

async function saveLedger(file: string, ledger: PrivacyBudgetLedger): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const temp = `${file}.tmp`;
  await writeFile(temp, JSON.stringify(ledger.toJSON()), { mode: 0o600 });
  await rename(temp, file);
}

/** What a training task would spend on the member's dataset, by the member's own reckoning. */
export function chargeOf(task: TaskHeader, numExamples: number): PrivacyCharge | null {
  const privacy = task.config.privacy;
  if (!privacy) return null;
  if (privacy.level === 'sample') return sampleLevelCharge(numExamples, task.config, privacy.noiseMultiplier);
  return { samplingRate: 1, noiseMultiplier: privacy.noiseMultiplier, steps: 1 };
}

export async function withPrivacyBudget(inner: TaskHandler, options: PrivacyGuardOptions): Promise<TaskHandler> {
  const ledger = await loadLedger(options.ledgerFile);
  ledger.setBudget(options.datasetId, options.budget);
  await saveLedger(options.ledgerFile, ledger);
  const { datasetId } = options;
  return {
    ...inner,
    async train(task, global) {
      const charge = chargeOf(task, options.numExamples);
      if (!charge) {
        throw new ConcordError(ErrorCode.FORBIDDEN, `this member trains only under differential privacy (budget ε=${options.budget.epsilon}); the task asks for none`);
      }
      const spent = ledger.spent(datasetId).epsilon;
      const after = ledger.preview(datasetId, charge).epsilon;
      if (after > options.budget.epsilon) {
        throw new ConcordError(ErrorCode.FORBIDDEN, `privacy budget of ${datasetId}: this task would spend ε=${after.toFixed(3)} > budget ${options.budget.epsilon} (spent ${spent.toFixed(3)})`);
      }
      ledger.charge(datasetId, charge);
      await saveLedger(options.ledgerFile, ledger);
      options.log?.(`privacy: ${datasetId} has now spent ε=${after.toFixed(3)} of ${options.budget.epsilon} (δ=${options.budget.delta})`);
      return inner.train(task, global);
    },
  };
}
