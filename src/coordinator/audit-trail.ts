// The coordinator's audit trail: the hash-chained, signed log of governance/audit.ts kept in
// the coordinator's database and signed with the coordinator's own Ed25519 identity. It
// records joins, revocations, invitations, tokens, runs, every aggregated round (with the
// SHA-256 of the model frame anyone can download and compare) and the privacy each round
// spent, and refusals — those rate-limited per caller, so that an attacker who cannot
// authenticate cannot flood the log either.
//
// A round's entries are written in the round's own transaction (roundEntries): no round is
// stored without its record. Other records never fail the operation they describe: a
// storage error is reported through `onError` and the operation goes on (the missing entry
// then shows as a gap to nobody, which is why `onError` should reach a person).

import { AuditLog, type AuditEntry, type AuditInput, type AuditStore } from '../governance/audit.js';
import { sha256Hex } from '../governance/digest.js';
import type { Identity } from '../governance/identity.js';
import { epsilonOf } from '../privacy/dp/charges.js';
import { encodeFrame } from '../protocol/frame.js';
import { PROTOCOL_VERSION } from '../protocol/messages.js';
import type { Parameters } from '../protocol/tensors.js';
import type { AuditLogStore, CompletedRound, RunEvent, RunRecord, RunStore } from '../storage/storage.js';
import { budgetFor } from './privacy-policy.js';

/** The storage's audit log seen as governance/audit.ts's AuditStore. */
export function storageAuditStore(storage: AuditLogStore): AuditStore {
  return {
    append: (entry) => storage.appendAudit(entry),
    list: (options) => storage.listAudit(options),
    count: () => storage.countAudit(),
    last: () => storage.lastAudit(),
  };
}

/** The global model after `round` exactly as GET /v1/runs/:runId/model serves it. */
export function modelFrame(run: RunRecord, round: number, parameters: Parameters): Buffer {
  const frame = encodeFrame({ protocolVersion: PROTOCOL_VERSION, runId: run.runId, round, model: run.config.model }, parameters);
  return Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength); // a view, for Fastify's reply
}

export interface AuditTrailOptions {
  /** The audit log, and the privacy charges a round's entry sums up. */
  storage: AuditLogStore & Pick<RunStore, 'listPrivacyCharges'>;
  /** The coordinator's identity; its private key signs every entry. */
  identity: Identity;
  /** At most one refusal entry per caller in this window. Default 60 000 ms. */
  refusalIntervalMs?: number;
  /** Default Date.now. */
  now?: () => number;
  /** Where failures to record go. Default: a line on stderr. */
  onError?: (error: unknown, input: AuditInput) => void;
}

/** Run events that are decisions worth keeping; the rest (retries, resumes) stay in the run's event log. */
const RUN_EVENT_KINDS: Record<string, string> = {
  'run-refused': 'run.refused',
  'run-failed': 'run.failed',
  'run-completed': 'run.completed',
};

export class AuditTrail {
  readonly log: AuditLog;
  private readonly storage: AuditLogStore & Pick<RunStore, 'listPrivacyCharges'>;
  private readonly refusalIntervalMs: number;
  private readonly now: () => number;
  private readonly onError: (error: unknown, input: AuditInput) => void;
  private readonly lastRefusal = new Map<string, number>();

  constructor(options: AuditTrailOptions) {
    this.storage = options.storage;
    this.log = new AuditLog(storageAuditStore(options.storage), options.identity);
    this.refusalIntervalMs = options.refusalIntervalMs ?? 60_000;
    this.now = options.now ?? Date.now;
    this.onError = options.onError ?? ((error, input) => process.stderr.write(`audit: could not record ${input.kind}: ${error instanceof Error ? error.message : String(error)}\n`));
  }

  get publicKey(): string {
    return this.log.publicKey;
  }

  /** Appends an entry; resolves undefined (after reporting) when it could not be stored. */
  async record(input: AuditInput): Promise<AuditEntry | undefined> {
    try {
      return await this.log.record({ at: this.now(), ...input });
    } catch (error) {
      this.onError(error, input);
      return undefined;
    }
  }

  /**
   * Records a refused request unless one from the same `bucket` was recorded within the
   * interval. Buckets should be bounded: an enrolled member's id, or one shared bucket for
   * callers nobody knows (otherwise invented ids would each get their own).
   */
  async refusal(bucket: string, input: AuditInput): Promise<AuditEntry | undefined> {
    const now = this.now();
    const last = this.lastRefusal.get(bucket);
    if (last !== undefined && now - last < this.refusalIntervalMs) return undefined;
    this.lastRefusal.set(bucket, now);
    return this.record(input);
  }

  async runEvent(event: RunEvent): Promise<void> {
    const kind = RUN_EVENT_KINDS[event.kind];
    if (!kind) return;
    await this.record({ actor: 'coordinator', kind, subject: event.runId, data: { round: event.round, message: event.message } });
  }

  /**
   * The entries of a completed round — its model hash and participants, then the privacy it
   * spent (with ε spent so far per dataset, this round included) — as a builder that
   * storage.saveRound runs inside the round's own transaction: the round is not stored
   * without its record, nor the record without the round.
   */
  async roundEntries(run: RunRecord, round: CompletedRound): Promise<(last: AuditEntry | undefined) => AuditEntry[]> {
    const at = this.now();
    const inputs: AuditInput[] = [
      {
        at,
        actor: 'coordinator',
        kind: 'round.aggregated',
        subject: run.runId,
        data: {
          round: round.round,
          modelSha256: sha256Hex(modelFrame(run, round.round, round.parameters)),
          participants: [...round.participants],
          failures: round.failures.map((f) => f.memberId),
          attempts: round.attempts,
        },
      },
    ];
    const charges = round.privacyCharges ?? [];
    const dp = run.config.differentialPrivacy;
    if (charges.length > 0 && dp) {
      const spent = [];
      for (const c of charges) {
        const budget = budgetFor(dp, c.datasetId.split('/')[0]!);
        const history = [...(await this.storage.listPrivacyCharges(c.datasetId)), ...charges.filter((o) => o.datasetId === c.datasetId)];
        spent.push({
          memberId: c.memberId,
          datasetId: c.datasetId,
          samplingRate: c.samplingRate,
          noiseMultiplier: c.noiseMultiplier,
          steps: c.steps,
          epsilonSpent: finiteOrNull(epsilonOf(history, budget.delta)),
          budgetEpsilon: budget.epsilon,
          delta: budget.delta,
        });
      }
      inputs.push({ at, actor: 'coordinator', kind: 'privacy.charged', subject: run.runId, data: { round: round.round, level: dp.level, charges: spent } });
    }
    return this.log.following(inputs);
  }
}

function finiteOrNull(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}
