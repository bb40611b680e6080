// The member's own privacy ledger. A member with a budget does not trust the coordinator
// to keep it: before every training task it works out what the task would spend on its
// dataset, refuses (declines the task) when that would exceed its budget or when the
// task asks for no differential privacy at all, and records the spend in a file of its
// own before it trains — so a crash can only over-count, never under-count. Where the
// ledger lives is the caller's: a file for the node (ledger-file.ts), IndexedDB for the
// browser member; this module stays free of Node builtins so both run the same guard.
//
// What it charges:
// - sample level (DP-SGD on its own data): q = B/n, E·⌈n/B⌉ steps at multiplier z — all
//   under the member's control, so exact;
// - client level: one step at multiplier z with q = 1. The coordinator books q = m/N for
//   amplification by sampling, but a member cannot verify that it was sampled at random,
//   so its own ledger assumes it was not.

import { sampleLevelCharge } from '../privacy/dp/charges.js';
import { PrivacyBudgetLedger, type PrivacyBudget, type PrivacyCharge } from '../privacy/dp/budget.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { TaskHeader } from '../protocol/messages.js';
import type { TaskHandler } from './member.js';

/** Where a member keeps its ledger between runs and restarts. */
export interface LedgerStore {
  /** The saved ledger, an empty one if none was saved yet; throws if one exists but cannot be read. */
  load(): Promise<PrivacyBudgetLedger>;
  /** Saves atomically: after a crash the store holds this ledger or the previous one. */
  save(ledger: PrivacyBudgetLedger): Promise<void>;
}

export interface PrivacyGuardOptions {
  /** The member's budget for this dataset. */
  budget: PrivacyBudget;
  datasetId: string;
  numExamples: number;
  store: LedgerStore;
  log?: (line: string) => void;
}

/**
 * One ledger shared by every guard of a member (training and analytics): loaded once, so two
 * guards never hold copies whose saves would undo each other's charges.
 */
export function sharedLedgerStore(store: LedgerStore): LedgerStore {
  let loaded: Promise<PrivacyBudgetLedger> | undefined;
  return { load: () => (loaded ??= store.load()), save: (ledger) => store.save(ledger) };
}

/** A ledger read back from its JSON, or INVALID_ARGUMENT naming `where`: a member refuses to train rather than forget what it spent. */
export function parseLedger(json: unknown, where: string): PrivacyBudgetLedger {
  try {
    return PrivacyBudgetLedger.fromJSON(json);
  } catch (error) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `privacy ledger ${where} is unreadable; refusing to train rather than forget what was spent`, { details: { field: 'ledger' }, cause: error });
  }
}

/** What a training task would spend on the member's dataset, by the member's own reckoning. */
export function chargeOf(task: TaskHeader, numExamples: number): PrivacyCharge | null {
  const privacy = task.config.privacy;
  if (!privacy) return null;
  if (privacy.level === 'sample') return sampleLevelCharge(numExamples, task.config, privacy.noiseMultiplier);
  return { samplingRate: 1, noiseMultiplier: privacy.noiseMultiplier, steps: 1 };
}

export async function withPrivacyBudget(inner: TaskHandler, options: PrivacyGuardOptions): Promise<TaskHandler> {
  const { store } = options;
  const ledger = await store.load();
  ledger.setBudget(options.datasetId, options.budget);
  await store.save(ledger);
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
      await store.save(ledger);
      options.log?.(`privacy: ${datasetId} has now spent ε=${after.toFixed(3)} of ${options.budget.epsilon} (δ=${options.budget.delta})`);
      return inner.train(task, global);
    },
  };
}
