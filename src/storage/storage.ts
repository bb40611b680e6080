// What the coordinator keeps, split by concern: runs and rounds (RunStore), members
// (MemberStore), the audit log (AuditLogStore), governance records (GovernanceStore) and
// declared resources (ResourceStore), analytics queries (AnalyticsStore). A backend implements them all as one Storage, with a
// transaction() that spans them: SQLite (storage/sqlite.ts) is the embedded default,
// PostgreSQL (storage/postgres.ts) the deployment backend. Every backend runs each concern's
// conformance suite (storage/conformance/).
//
// A completed round is written in one transaction (round row, checkpoint, strategy state,
// per-member metrics, privacy charges, audit entries), so a coordinator killed at any
// instant either has the round or not. Code that needs one concern takes that interface.

import type { AuditEntry } from '../governance/audit.js';
import type { Agreement, AgreementSignature } from '../governance/agreement.js';
import type { InvitationRecord } from '../governance/invitations.js';
import type { Plan, PlanApproval } from '../governance/plans.js';
import type { ApiTokenRecord } from '../governance/roles.js';
import type { Parameters } from '../protocol/tensors.js';
import type { DatasetDescriptor, RunConfig } from '../protocol/messages.js';

export interface MemberRecord {
  memberId: string;
  name: string;
  /**
   * The member's Ed25519 public key (base64url), which its signed requests must verify
   * with; null only for a member enrolled before signatures (schema version < 3), who must
   * enroll again.
   */
  publicKey: string | null;
  dataset: DatasetDescriptor;
  enrolledAt: number;
  lastSeenAt: number | null;
  revoked: boolean;
}

export type RunStatus = 'pending' | 'running' | 'completed' | 'failed' | 'stopped';

export interface RunRecord {
  runId: string;
  config: RunConfig;
  status: RunStatus;
  error: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface MemberRoundMetrics {
  memberId: string;
  phase: 'train' | 'evaluate';
  numExamples: number;
  loss: number | null;
  metrics: Record<string, number>;
  bytesIn: number;
  bytesOut: number;
  seconds: number;
}

/**
 * One round's spend of one member dataset's privacy budget, in the accountant's terms:
 * `steps` applications of the subsampled Gaussian mechanism with rate q and multiplier z.
 */
export interface PrivacyCharge {
  memberId: string;
  /** Stable id of the dataset the budget belongs to: `<member name>/<dataset name>`. */
  datasetId: string;
  samplingRate: number;
  noiseMultiplier: number;
  steps: number;
}

export interface CompletedRound {
  runId: string;
  round: number;
  parameters: Parameters;
  strategyState: Parameters | null;
  /** Aggregated train metrics and aggregated federated evaluation. */
  trainMetrics: Record<string, number>;
  evalLoss: number | null;
  evalMetrics: Record<string, number>;
  /** Server-side evaluation on a held-out set, when the coordinator has one. */
  serverEval: { loss: number; metrics: Record<string, number> } | null;
  participants: string[];
  failures: { memberId: string; reason: string }[];
  members: MemberRoundMetrics[];
  attempts: number;
  startedAt: number;
  completedAt: number;
  /** Privacy spent in this round, committed with it so budget and rounds never disagree. */
  privacyCharges?: PrivacyCharge[];
  /** Members' individual updates, kept for contribution valuation when the run asks for it. */
  updates?: MemberUpdate[];
}

/** One member's locally trained parameters in one round, as it sent them. */
export interface MemberUpdate {
  memberId: string;
  numExamples: number;
  parameters: Parameters;
}

export type RoundSummary = Omit<CompletedRound, 'parameters' | 'strategyState' | 'members' | 'privacyCharges' | 'updates'>;

export interface RunEvent {
  runId: string;
  round: number | null;
  kind: string;
  message: string;
  at: number;
}

/** Runs, their rounds (checkpoints, metrics, privacy charges, kept updates) and run events. */
export interface RunStore {
  createRun(config: RunConfig, initial: Parameters): Promise<RunRecord>;
  getRun(runId: string): Promise<RunRecord | undefined>;
  listRuns(): Promise<RunRecord[]>;
  setRunStatus(runId: string, status: RunStatus, error?: string | null): Promise<void>;
  /** The initial parameters a run started from (round 0). */
  getInitialParameters(runId: string): Promise<Parameters | undefined>;

  /**
   * Stores a completed round in one transaction: round row, checkpoint, strategy state,
   * member metrics, privacy charges and kept updates. `audit` gives the entries that record
   * it, built from the audit log's last entry inside that transaction, so the round and its
   * audit entries commit (or fail) together. Rounds are stored in order: a repeated or
   * skipped round is a CONFLICT. The store's retention policy (retention.ts) is applied in
   * the same transaction.
   */
  saveRound(round: CompletedRound, audit?: (last: AuditEntry | undefined) => AuditEntry[]): Promise<void>;
  lastRound(runId: string): Promise<RoundSummary | undefined>;
  listRounds(runId: string): Promise<RoundSummary[]>;
  /** Undefined for a round never stored, or whose checkpoint the retention policy dropped. */
  getCheckpoint(runId: string, round: number): Promise<{ parameters: Parameters; strategyState: Parameters | null } | undefined>;
  listMemberMetrics(runId: string, round?: number): Promise<(MemberRoundMetrics & { round: number })[]>;
  /** The updates stored with a round, in the order given; empty when the run kept none (or retention dropped them). */
  listMemberUpdates(runId: string, round: number): Promise<MemberUpdate[]>;

  /** Every stored privacy charge of a dataset (across all runs), oldest first; all datasets when omitted. */
  listPrivacyCharges(datasetId?: string): Promise<(PrivacyCharge & { runId: string; round: number })[]>;

  addEvent(event: RunEvent): Promise<void>;
  listEvents(runId: string): Promise<RunEvent[]>;
}

/** Enrolled member nodes: their keys, datasets, activity and revocation. */
export interface MemberStore {
  /** A duplicate name or public key is a CONFLICT. */
  addMember(member: { name: string; publicKey: string; dataset: DatasetDescriptor }): Promise<MemberRecord>;
  /** Re-enrollment of a known name replaces its key and descriptor, keeping its id and any revocation. */
  replaceMemberKey(memberId: string, publicKey: string, dataset: DatasetDescriptor): Promise<MemberRecord>;
  getMember(memberId: string): Promise<MemberRecord | undefined>;
  getMemberByName(name: string): Promise<MemberRecord | undefined>;
  listMembers(): Promise<MemberRecord[]>;
  touchMember(memberId: string, at: number): Promise<void>;
  /**
   * Many touches in one write (the coordinator batches members' contacts instead of one
   * write per request). Like touchMember it never moves a time back; ids no longer
   * enrolled are skipped, since a member may be removed between its contact and the write.
   */
  touchMembers(seen: ReadonlyMap<string, number>): Promise<void>;
  revokeMember(memberId: string): Promise<void>;
}

/** The signed, hash-chained audit log (governance/audit.ts). */
export interface AuditLogStore {
  /**
   * Appends to the audit log; a CONFLICT unless `entry.seq` is exactly one past the last
   * stored seq. Appends are serialized across every process sharing the database.
   */
  appendAudit(entry: AuditEntry): Promise<void>;
  /** Entries in the order they were appended, from `fromSeq` (default 1), at most `limit` (default all). */
  listAudit(options?: { fromSeq?: number; limit?: number }): Promise<AuditEntry[]>;
  countAudit(): Promise<number>;
  /** The entry with the highest seq. */
  lastAudit(): Promise<AuditEntry | undefined>;
}

/** Governance records: the agreement's versions, training plans and approvals, invitations and API tokens. */
export interface GovernanceStore {
  /** Stores an adopted agreement version; a CONFLICT when that version exists. */
  addAgreementVersion(record: AgreementVersionRecord): Promise<void>;
  /** Every adopted version, oldest first; the last is in force. */
  listAgreementVersions(): Promise<AgreementVersionRecord[]>;

  /** Stores a submitted plan (no approvals yet); a duplicate id is a CONFLICT. */
  addPlan(record: Omit<PlanRecord, 'approvals' | 'runId'>): Promise<void>;
  getPlan(planId: string): Promise<PlanRecord | undefined>;
  /** In submission order. */
  listPlans(): Promise<PlanRecord[]>;
  /** Appends a data owner's signed decision; NOT_FOUND for an unknown plan. */
  addPlanApproval(planId: string, approval: PlanApproval): Promise<PlanRecord>;
  /** Links the run started from the plan. */
  setPlanRun(planId: string, runId: string): Promise<PlanRecord>;

  /** Stores an unused invitation (only its code's hash); a duplicate hash is a CONFLICT. */
  addInvitation(invitation: InvitationRecord): Promise<void>;
  getInvitation(codeHash: string): Promise<InvitationRecord | undefined>;
  /**
   * Marks an invitation used, atomically: of two concurrent redemptions exactly one
   * succeeds, the other gets CONFLICT. NOT_FOUND for an unknown hash.
   */
  useInvitation(codeHash: string, usedBy: string, usedAt: number): Promise<InvitationRecord>;
  listInvitations(): Promise<InvitationRecord[]>;

  /** Stores an API token's record (its hash, never the token); a duplicate id or hash is a CONFLICT. */
  addApiToken(token: ApiTokenRecord): Promise<void>;
  getApiToken(tokenId: string): Promise<ApiTokenRecord | undefined>;
  listApiTokens(): Promise<ApiTokenRecord[]>;
  /** Idempotent: a revoked token keeps its first revocation time. */
  revokeApiToken(tokenId: string, at: number): Promise<ApiTokenRecord>;
}

/** Members' declared compute resources, for planning. */
export interface ResourceStore {
  /** A member's declared compute resources (a planning entry without its name); replaces an earlier one. NOT_FOUND for an unknown member. */
  setMemberResources(memberId: string, declaration: Record<string, unknown>): Promise<void>;
  /** Every declaration, in the order members first declared. */
  listMemberResources(): Promise<{ memberId: string; declaration: Record<string, unknown>; declaredAt: number }[]>;
}

export type AnalyticsStatus = 'running' | 'completed' | 'failed';

/** A federated-analytics query (src/analytics) and what it released. */
export interface AnalyticsQueryRecord {
  queryId: string;
  /** The query as checked (analytics/query.ts). */
  query: Record<string, unknown>;
  submittedBy: string;
  status: AnalyticsStatus;
  /** The released result (analytics/release.ts): only released values, never a member's own statistic. */
  result: Record<string, unknown> | null;
  error: string | null;
  createdAt: number;
  updatedAt: number;
}

/**
 * Federated-analytics queries and the privacy their DP releases spent. Those charges are
 * part of the same per-dataset ledger as training: RunStore.listPrivacyCharges returns them
 * too (with runId = the query's id and round 0), after the training charges.
 */
export interface AnalyticsStore {
  /** Stores a new query as running, with a fresh id. */
  addAnalyticsQuery(query: Record<string, unknown>, submittedBy: string): Promise<AnalyticsQueryRecord>;
  getAnalyticsQuery(queryId: string): Promise<AnalyticsQueryRecord | undefined>;
  /** In submission order. */
  listAnalyticsQueries(): Promise<AnalyticsQueryRecord[]>;
  /**
   * Completes a running query with its result and the privacy charges of its release, in one
   * transaction with the audit entries `audit` builds; NOT_FOUND for an unknown query,
   * CONFLICT for one that is no longer running.
   */
  completeAnalyticsQuery(queryId: string, result: Record<string, unknown>, charges: PrivacyCharge[], audit?: (last: AuditEntry | undefined) => AuditEntry[]): Promise<AnalyticsQueryRecord>;
  /** Marks a running query failed with the reason; NOT_FOUND, CONFLICT as above. */
  failAnalyticsQuery(queryId: string, error: string): Promise<AnalyticsQueryRecord>;
}

/** Every concern at once: what a backend implements, and what a transaction sees. */
export interface StorageScope extends RunStore, MemberStore, AuditLogStore, GovernanceStore, ResourceStore, AnalyticsStore {}

export interface Storage extends StorageScope {
  /** Creates or upgrades the schema; safe to call on every start. */
  migrate(): Promise<void>;
  close(): Promise<void>;
  /**
   * Runs `fn` in one transaction that spans every concern: what it writes through `tx`
   * commits together when `fn` resolves, or not at all when it throws. While it is open,
   * other callers of this store wait (SQLite) or do not see its writes (PostgreSQL).
   * Operations on `tx` inside it are atomic on their own as well (savepoints).
   */
  transaction<T>(fn: (tx: StorageScope) => Promise<T>): Promise<T>;
}

/** One adopted version of the cooperation agreement. */
export interface AgreementVersionRecord {
  version: number;
  /** agreementHash(agreement). */
  hash: string;
  agreement: Agreement;
  /** The data owners' signatures it was adopted with (none for the first, loaded version). */
  signatures: AgreementSignature[];
  signers: string[];
  adoptedAt: number;
  /** Who adopted it: `operator` (loaded at start) or the caller that posted the amendment. */
  adoptedBy: string;
}

export interface PlanRecord {
  planId: string;
  /** planHash(plan). */
  planHash: string;
  plan: Plan;
  submittedBy: string;
  submittedAt: number;
  /** Signed decisions in the order received. */
  approvals: PlanApproval[];
  /** The run started from it, if any. */
  runId: string | null;
}
