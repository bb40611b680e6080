// The audit log: every decision — a join, an approval, a plan, a round, a query, a budget
// spend — becomes an entry in an append-only chain. Each entry carries the hash of the one
// before it and is signed by the coordinator, so anyone holding the coordinator's public
// key can check an exported log: an edited, deleted, inserted or reordered entry, or a
// forged signature, is found and the first bad entry named. (Truncating the newest entries
// is invisible to a chain alone; pass the head you last saw as `expectedHead`.)
//
//   hash      = SHA-256 hex of canonicalJson({seq, at, actor, kind, subject, data, prevHash})
//   signature = Ed25519 over signingBytes('concord/audit-entry/v1', hash)

import { z } from 'zod';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { SigningDomain, canonicalBytes, canonicalJson, signingBytes, type JsonValue } from './canonical.js';
import { sha256Hex } from './digest.js';
import { sign, verify, type Identity } from './identity.js';

export const GENESIS_HASH = '0'.repeat(64);

export interface AuditEntry {
  /** 1, 2, 3, … without gaps. */
  seq: number;
  /** Epoch milliseconds. */
  at: number;
  /** Who acted: a member id, a token id, `operator`, `coordinator`. */
  actor: string;
  /** What happened, dotted: `member.joined`, `plan.approved`, `round.completed`, `budget.spent`. */
  kind: string;
  /** What it happened to: a run id, plan hash, member id, dataset id. */
  subject: string;
  data: JsonValue;
  prevHash: string;
  hash: string;
  signature: string;
}

export interface AuditInput {
  /** Default Date.now(). */
  at?: number;
  actor: string;
  kind: string;
  subject: string;
  /** Default {}. */
  data?: JsonValue;
}

const AuditEntrySchema = z
  .object({
    seq: z.number().int().min(1),
    at: z.number().int(),
    actor: z.string(),
    kind: z.string(),
    subject: z.string(),
    data: z.unknown(),
    prevHash: z.string().regex(/^[0-9a-f]{64}$/),
    hash: z.string().regex(/^[0-9a-f]{64}$/),
    signature: z.string(),
  })
  .strict();

export function auditEntryHash(entry: Omit<AuditEntry, 'hash' | 'signature'>): string {
  const { seq, at, actor, kind, subject, data, prevHash } = entry;
  return sha256Hex(canonicalBytes({ seq, at, actor, kind, subject, data, prevHash }));
}

export function auditSigningBytes(hash: string): Uint8Array {
  return signingBytes(SigningDomain.AUDIT_ENTRY, hash);
}

/** The entry that follows `prev` (undefined for the first), hashed and signed by `signer`. */
export function appendEntry(prev: AuditEntry | undefined, input: AuditInput, signer: Identity): AuditEntry {
  for (const field of ['actor', 'kind', 'subject'] as const) {
    if (typeof input[field] !== 'string' || input[field].length === 0) {
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `audit entry ${field} must be a non-empty string`, { details: { field, expected: 'non-empty string', received: input[field] } });
    }
  }
  const at = input.at ?? Date.now();
  if (!Number.isSafeInteger(at)) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, 'audit entry at must be integer epoch milliseconds', { details: { field: 'at', expected: 'integer', received: at } });
  }
  // A detached copy: later changes to the caller's object must not alter a logged entry.
  const data = JSON.parse(canonicalJson(input.data ?? {})) as JsonValue;
  const unsigned = { seq: (prev?.seq ?? 0) + 1, at, actor: input.actor, kind: input.kind, subject: input.subject, data, prevHash: prev?.hash ?? GENESIS_HASH };
  const hash = auditEntryHash(unsigned);
  return { ...unsigned, hash, signature: sign(signer.privateKey, auditSigningBytes(hash)) };
}

export type ChainProblem = 'malformed' | 'edited' | 'deleted' | 'reordered' | 'inserted' | 'broken-link' | 'bad-signature' | 'truncated';

export type ChainVerification =
  | { ok: true; count: number; head: { seq: number; hash: string } | null }
  /** `firstBad` is the seq where the chain stops being valid (for a deletion: the missing seq). */
  | { ok: false; firstBad: number; problem: ChainProblem; reason: string; verified: number };

export interface VerifyChainOptions {
  /** Verify a slice that continues after this entry. Default: the chain starts at seq 1. */
  after?: { seq: number; hash: string };
  /** The newest entry the verifier knows exists; reveals truncation. */
  expectedHead?: { seq: number; hash: string };
}

/**
 * Checks order, links, hashes and signatures. `publicKeyOf` is the coordinator's public
 * key, or a function giving the key that signed a given entry (for key rotation).
 */
export function verifyChain(
  entries: readonly AuditEntry[],
  publicKeyOf: string | ((entry: AuditEntry) => string | undefined),
  options: VerifyChainOptions = {},
): ChainVerification {
  let prev = options.after ?? { seq: 0, hash: GENESIS_HASH };
  let verified = 0;
  const bad = (firstBad: number, problem: ChainProblem, reason: string): ChainVerification => ({ ok: false, firstBad, problem, reason, verified });

  for (const [index, candidate] of entries.entries()) {
    const expected = prev.seq + 1;
    const parsed = AuditEntrySchema.safeParse(candidate);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return bad(expected, 'malformed', `entry at position ${index + 1} is malformed: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    }
    const entry = candidate;
    if (entry.seq > expected) {
      const later = entries.slice(index + 1).some((e) => e.seq === expected);
      return later
        ? bad(expected, 'reordered', `entry ${expected} appears after entry ${entry.seq}: entries were reordered`)
        : bad(expected, 'deleted', `entry ${expected} is missing: entry ${entry.seq} follows entry ${prev.seq}`);
    }
    if (entry.seq < expected) {
      return bad(expected, 'inserted', `entry ${entry.seq} appears again after entry ${prev.seq}: an entry was duplicated or inserted`);
    }
    let hash: string;
    try {
      hash = auditEntryHash(entry);
    } catch (error) {
      return bad(entry.seq, 'malformed', `entry ${entry.seq} cannot be hashed: ${(error as Error).message}`);
    }
    if (hash !== entry.hash) {
      return bad(entry.seq, 'edited', `entry ${entry.seq} does not match its hash: its content was changed after it was logged`);
    }
    if (entry.prevHash !== prev.hash) {
      return bad(entry.seq, 'broken-link', `entry ${entry.seq} does not link to entry ${prev.seq} (prevHash differs): an entry before it was replaced`);
    }
    const key = typeof publicKeyOf === 'string' ? publicKeyOf : publicKeyOf(entry);
    if (key === undefined || !verify(key, auditSigningBytes(entry.hash), entry.signature)) {
      return bad(entry.seq, 'bad-signature', `entry ${entry.seq} is not signed by the coordinator's key: forged or re-hashed`);
    }
    prev = { seq: entry.seq, hash: entry.hash };
    verified += 1;
  }

  const head = options.expectedHead;
  if (head) {
    if (prev.seq < head.seq) return bad(prev.seq + 1, 'truncated', `the log ends at entry ${prev.seq}, but entry ${head.seq} is known to exist: entries were removed from the end`);
    const last = entries.find((e) => e.seq === head.seq);
    if (last && last.hash !== head.hash) return bad(head.seq, 'edited', `entry ${head.seq} differs from the head the verifier knows`);
  }
  return { ok: true, count: verified, head: prev.seq === 0 ? null : prev };
}

/** One canonical JSON entry per line, the export format auditors verify. */
export function toJsonLines(entries: readonly AuditEntry[]): string {
  return entries.map((e) => `${canonicalJson(e)}\n`).join('');
}

/** Reads an export; each line must be a well-formed entry (verifyChain judges its truth). */
export function fromJsonLines(text: string): AuditEntry[] {
  const entries: AuditEntry[] = [];
  for (const [index, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `audit log line ${index + 1} is not JSON`, { details: { field: `line ${index + 1}` }, cause: error });
    }
    const result = AuditEntrySchema.safeParse(value);
    if (!result.success) {
      const issue = result.error.issues[0]!;
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `audit log line ${index + 1}: ${issue.path.join('.') || '(root)'}: ${issue.message}`, {
        details: { field: `line ${index + 1}.${issue.path.join('.')}` },
      });
    }
    entries.push(result.data as AuditEntry);
  }
  return entries;
}

// ---- storage --------------------------------------------------------------------------

/** Where entries are kept. Implementations: MemoryAuditStore here; SQLite in storage/. */
export interface AuditStore {
  /** Stores `entry`; a CONFLICT error unless `entry.seq` is exactly count() + 1. */
  append(entry: AuditEntry): Promise<void>;
  /** Entries in seq order, from `fromSeq` (default 1), at most `limit` (default all). */
  list(options?: { fromSeq?: number; limit?: number }): Promise<AuditEntry[]>;
  count(): Promise<number>;
  last(): Promise<AuditEntry | undefined>;
}

export class MemoryAuditStore implements AuditStore {
  private readonly entries: AuditEntry[] = [];

  async append(entry: AuditEntry): Promise<void> {
    if (entry.seq !== this.entries.length + 1) {
      throw new ConcordError(ErrorCode.CONFLICT, `audit entry ${entry.seq} cannot follow entry ${this.entries.length}`, {
        details: { field: 'seq', expected: this.entries.length + 1, received: entry.seq },
      });
    }
    this.entries.push(structuredClone(entry));
  }

  async list(options: { fromSeq?: number; limit?: number } = {}): Promise<AuditEntry[]> {
    const from = Math.max(1, options.fromSeq ?? 1);
    const slice = this.entries.slice(from - 1, options.limit === undefined ? undefined : from - 1 + options.limit);
    return slice.map((e) => structuredClone(e));
  }

  async count(): Promise<number> {
    return this.entries.length;
  }

  async last(): Promise<AuditEntry | undefined> {
    const last = this.entries.at(-1);
    return last && structuredClone(last);
  }
}

/**
 * A store plus the coordinator's signing identity. Appends from one process are queued so
 * they never race for the same seq; a CONFLICT from another writer is retried on the new
 * head (up to `maxRetries`, default 3).
 */
export class AuditLog {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly store: AuditStore,
    private readonly signer: Identity,
    private readonly options: { maxRetries?: number } = {},
  ) {}

  get publicKey(): string {
    return this.signer.publicKey;
  }

  /**
   * Entries for `inputs` that follow whatever entry is last when they are stored: for a
   * store that appends them inside a transaction of its own (a round and its audit entries
   * commit together). Synchronous, so the transaction need not wait.
   */
  following(inputs: readonly AuditInput[]): (last: AuditEntry | undefined) => AuditEntry[] {
    return (last) => {
      const out: AuditEntry[] = [];
      for (const input of inputs) out.push(appendEntry(out.at(-1) ?? last, input, this.signer));
      return out;
    };
  }

  record(input: AuditInput): Promise<AuditEntry> {
    const run = async (): Promise<AuditEntry> => {
      const retries = this.options.maxRetries ?? 3;
      for (let attempt = 0; ; attempt += 1) {
        const entry = appendEntry(await this.store.last(), input, this.signer);
        try {
          await this.store.append(entry);
          return entry;
        } catch (error) {
          if (!(error instanceof ConcordError && error.code === ErrorCode.CONFLICT) || attempt >= retries) throw error;
        }
      }
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  async verify(options: VerifyChainOptions = {}): Promise<ChainVerification> {
    return verifyChain(await this.store.list(), this.signer.publicKey, options);
  }

  async exportJsonLines(): Promise<string> {
    return toJsonLines(await this.store.list());
  }
}
