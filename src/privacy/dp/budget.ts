// The privacy budget ledger: each dataset has an agreed (ε, δ) budget; every training round
// or query that touches it is charged, and a charge that would push the dataset past its ε
// is refused. The coordinator and each member keep their own copy (a member need not trust
// the coordinator's bookkeeping), so the state is plain JSON.
//
// Composition is exact in Rényi DP: the RDP curves of heterogeneous mechanisms add order by
// order (Mironov 2017, Prop. 1), so the ledger keeps one cumulative RDP vector per dataset
// and converts it to ε at the dataset's δ only when asked (../rdp.ts, Balle et al. 2020).
// Summing ε values instead would overstate the spend many times over.

import { z } from 'zod';
import { ConcordError, ErrorCode } from '../../protocol/errors.js';
import { DEFAULT_ORDERS, computeRdp, epsilonFromRdp } from '../rdp.js';

export interface PrivacyBudget {
  /** Total ε the dataset may spend; finite, > 0. */
  epsilon: number;
  /** δ at which ε is measured; in (0, 1). */
  delta: number;
}

/** One charge: `steps` compositions of the subsampled Gaussian mechanism. */
export interface PrivacyCharge {
  /** q, the probability that the dataset (or a record of it) takes part in a step. */
  samplingRate: number;
  /** z, noise std over L2 sensitivity. */
  noiseMultiplier: number;
  /** Number of steps (rounds, or SGD steps) charged at once. */
  steps: number;
}

export interface PrivacySpent {
  epsilon: number;
  /** The Rényi order that gives ε (NaN when nothing has been spent). */
  order: number;
  delta: number;
}

const DatasetStateSchema = z
  .object({
    budget: z.object({ epsilon: z.number().finite().positive(), delta: z.number().gt(0).lt(1) }).strict(),
    /** Cumulative RDP per order; null stands for +Infinity, which JSON cannot hold. */
    rdp: z.array(z.number().min(0).nullable()),
    charges: z.number().int().min(0),
  })
  .strict();

export const BudgetLedgerStateSchema = z
  .object({
    version: z.literal(1),
    orders: z.array(z.number().finite().gt(1)).min(1),
    datasets: z.record(DatasetStateSchema),
  })
  .strict();
export type BudgetLedgerState = z.infer<typeof BudgetLedgerStateSchema>;

interface DatasetEntry {
  budget: PrivacyBudget;
  rdp: number[];
  charges: number;
}

function formatEpsilon(value: number): string {
  return Number.isFinite(value) ? String(Number(value.toPrecision(3))) : String(value);
}

export class PrivacyBudgetLedger {
  readonly orders: readonly number[];
  private readonly entries = new Map<string, DatasetEntry>();

  /** `orders`: the Rényi orders every curve is kept at. Default: DEFAULT_ORDERS (Opacus's). */
  constructor(options: { orders?: readonly number[] } = {}) {
    const orders = options.orders ?? DEFAULT_ORDERS;
    // Validates the orders once, through the accountant's own checks.
    computeRdp({ samplingRate: 0, noiseMultiplier: 1, steps: 1, orders });
    this.orders = Object.freeze([...orders]);
  }

  /** Rebuilds a ledger from toJSON()'s output; INVALID_ARGUMENT naming the bad field otherwise. */
  static fromJSON(state: unknown): PrivacyBudgetLedger {
    const parsed = BudgetLedgerStateSchema.safeParse(state);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = ['ledger', ...issue.path].join('.');
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${field}: ${issue.message}`, { details: { field, expected: issue.message } });
    }
    const ledger = new PrivacyBudgetLedger({ orders: parsed.data.orders });
    for (const [datasetId, entry] of Object.entries(parsed.data.datasets)) {
      if (entry.rdp.length !== ledger.orders.length) {
        const field = `ledger.datasets.${datasetId}.rdp`;
        throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${field} holds ${entry.rdp.length} values; expected one per order (${ledger.orders.length})`, {
          details: { field, expected: ledger.orders.length, received: entry.rdp.length },
        });
      }
      ledger.entries.set(datasetId, { budget: { ...entry.budget }, rdp: entry.rdp.map((r) => r ?? Infinity), charges: entry.charges });
    }
    return ledger;
  }

  toJSON(): BudgetLedgerState {
    const datasets: BudgetLedgerState['datasets'] = {};
    for (const [datasetId, entry] of this.entries) {
      datasets[datasetId] = { budget: { ...entry.budget }, rdp: entry.rdp.map((r) => (Number.isFinite(r) ? r : null)), charges: entry.charges };
    }
    return { version: 1, orders: [...this.orders], datasets };
  }

  /** Sets (or changes) a dataset's budget; what it has spent so far is kept. */
  setBudget(datasetId: string, budget: PrivacyBudget): void {
    checkDatasetId(datasetId);
    if (typeof budget?.epsilon !== 'number' || !Number.isFinite(budget.epsilon) || budget.epsilon <= 0) {
      throw invalid('budget.epsilon', 'a finite number > 0', budget?.epsilon);
    }
    if (typeof budget.delta !== 'number' || !(budget.delta > 0 && budget.delta < 1)) throw invalid('budget.delta', 'a number in (0, 1)', budget.delta);
    const entry = this.entries.get(datasetId);
    if (entry) entry.budget = { epsilon: budget.epsilon, delta: budget.delta };
    else this.entries.set(datasetId, { budget: { epsilon: budget.epsilon, delta: budget.delta }, rdp: this.orders.map(() => 0), charges: 0 });
  }

  datasets(): string[] {
    return [...this.entries.keys()];
  }

  budget(datasetId: string): PrivacyBudget {
    return { ...this.entry(datasetId).budget };
  }

  /** Number of charges recorded against the dataset. */
  charges(datasetId: string): number {
    return this.entry(datasetId).charges;
  }

  /** ε spent so far at the dataset's δ; 0 before the first charge. */
  spent(datasetId: string): PrivacySpent {
    const entry = this.entry(datasetId);
    return this.toSpent(entry.rdp, entry.charges, entry.budget.delta);
  }

  /** budget ε − spent ε, never below 0. */
  remaining(datasetId: string): number {
    const entry = this.entry(datasetId);
    return Math.max(0, entry.budget.epsilon - this.spent(datasetId).epsilon);
  }

  /** ε the dataset would have spent after this charge; records nothing. */
  preview(datasetId: string, charge: PrivacyCharge): PrivacySpent {
    const entry = this.entry(datasetId);
    return this.toSpent(this.addCharge(entry.rdp, charge), entry.charges + 1, entry.budget.delta);
  }

  /** Whether the charge fits in the remaining budget. */
  canSpend(datasetId: string, charge: PrivacyCharge): boolean {
    return this.preview(datasetId, charge).epsilon <= this.entry(datasetId).budget.epsilon;
  }

  /** Throws FORBIDDEN, with the ε it would reach, the budget and the spend so far, when the charge does not fit. */
  assertCanSpend(datasetId: string, charge: PrivacyCharge): void {
    const after = this.preview(datasetId, charge);
    const { budget } = this.entry(datasetId);
    if (after.epsilon <= budget.epsilon) return;
    const spent = this.spent(datasetId).epsilon;
    throw new ConcordError(
      ErrorCode.FORBIDDEN,
      `dataset ${datasetId}: the next round would spend ε=${formatEpsilon(after.epsilon)} > budget ${formatEpsilon(budget.epsilon)} (spent ${formatEpsilon(spent)})`,
      { details: { field: 'privacyBudget.epsilon', expected: `<= ${budget.epsilon}`, received: after.epsilon, datasetId, spent, delta: budget.delta } },
    );
  }

  /** Records the charge if it fits (else FORBIDDEN, nothing recorded) and returns the ε spent after it. */
  charge(datasetId: string, charge: PrivacyCharge): PrivacySpent {
    this.assertCanSpend(datasetId, charge);
    const entry = this.entry(datasetId);
    entry.rdp = this.addCharge(entry.rdp, charge);
    entry.charges += 1;
    return this.spent(datasetId);
  }

  private entry(datasetId: string): DatasetEntry {
    const entry = this.entries.get(datasetId);
    if (!entry) {
      throw new ConcordError(ErrorCode.NOT_FOUND, `dataset ${datasetId} has no privacy budget in this ledger; known: ${this.datasets().join(', ') || '(none)'}`, {
        details: { field: 'datasetId', expected: this.datasets(), received: datasetId },
      });
    }
    return entry;
  }

  private addCharge(rdp: readonly number[], charge: PrivacyCharge): number[] {
    const added = computeRdp({ samplingRate: charge?.samplingRate, noiseMultiplier: charge?.noiseMultiplier, steps: charge?.steps, orders: this.orders });
    return rdp.map((r, i) => r + added[i]!);
  }

  private toSpent(rdp: readonly number[], charges: number, delta: number): PrivacySpent {
    if (charges === 0) return { epsilon: 0, order: NaN, delta };
    return { ...epsilonFromRdp({ orders: this.orders, rdp, delta }), delta };
  }
}

function invalid(field: string, expected: string, received: unknown): ConcordError {
  return new ConcordError(ErrorCode.INVALID_ARGUMENT, `${field} is ${String(received)}; expected ${expected}`, { details: { field, expected, received } });
}

function checkDatasetId(datasetId: string): void {
  if (typeof datasetId !== 'string' || datasetId.length === 0) throw invalid('datasetId', 'a non-empty string', datasetId);
}
