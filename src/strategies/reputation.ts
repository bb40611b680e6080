// A per-member record of how its updates fared in validation: counts of accepted and
// rejected updates and an exponentially decayed score, score ← λ·score + (1 − λ)·[accepted],
// starting at 1 (a new member is trusted until its updates say otherwise). The coordinator
// shows it and persists it; the score is kept at float32 precision so that the record
// survives a checkpoint as float32 tensors (see toTensors) bit for bit.

import { z } from 'zod';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { TensorSpec } from '../protocol/tensors.js';

export interface MemberReputation {
  memberId: string;
  accepted: number;
  rejected: number;
  /** In [0, 1]; 1 = every recent update accepted. */
  score: number;
  /** The last round recorded for this member; a round is recorded once. */
  lastRound: number;
}

export interface ReputationSnapshot {
  /** λ, the weight of the past in the score. */
  decay: number;
  /** Sorted by memberId. */
  members: MemberReputation[];
}

const count = z.number().int().min(0).max(2 ** 24);
const MemberReputationSchema = z.object({ memberId: z.string().min(1), accepted: count, rejected: count, score: z.number().min(0).max(1), lastRound: count }).strict();
const ReputationSnapshotSchema = z.object({ decay: z.number().finite().min(0).lt(1), members: z.array(MemberReputationSchema) }).strict();

/** Tensor layout of one member in a checkpoint: `<prefix><memberId>`, shape [4]. */
const FIELDS = ['accepted', 'rejected', 'score', 'lastRound'] as const;

export class ReputationBook {
  readonly decay: number;
  private readonly members = new Map<string, MemberReputation>();

  /** decay: λ in [0, 1). Default 0.8: a rejection costs 0.2 and fades by a fifth each round. */
  constructor(options: { decay?: number } = {}) {
    const decay = options.decay ?? 0.8;
    if (!(decay >= 0 && decay < 1)) {
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `reputation decay is ${decay}; it must be in [0, 1)`, {
        details: { field: 'decay', expected: '[0, 1)', received: decay },
      });
    }
    this.decay = decay;
  }

  get size(): number {
    return this.members.size;
  }

  /**
   * Records one update's outcome. A round already recorded for the member is ignored, so
   * replaying a round (a retried attempt, a restart) never counts it twice.
   */
  record(memberId: string, serverRound: number, accepted: boolean): MemberReputation {
    const m = this.members.get(memberId) ?? { memberId, accepted: 0, rejected: 0, score: 1, lastRound: 0 };
    if (serverRound > m.lastRound) {
      if (accepted) m.accepted++;
      else m.rejected++;
      m.score = Math.fround(this.decay * m.score + (1 - this.decay) * (accepted ? 1 : 0));
      m.lastRound = serverRound;
      this.members.set(memberId, m);
    }
    return { ...m };
  }

  get(memberId: string): MemberReputation | undefined {
    const m = this.members.get(memberId);
    return m === undefined ? undefined : { ...m };
  }

  clear(): void {
    this.members.clear();
  }

  snapshot(): ReputationSnapshot {
    const members = [...this.members.values()].map((m) => ({ ...m })).sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0));
    return { decay: this.decay, members };
  }

  toJSON(): ReputationSnapshot {
    return this.snapshot();
  }

  /** Rebuilds a book from a snapshot (e.g. parsed JSON); INVALID_ARGUMENT names the bad field. */
  static fromJSON(value: unknown): ReputationBook {
    const parsed = ReputationSnapshotSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = ['reputation', ...issue.path].join('.');
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${field}: ${issue.message}`, { details: { field, expected: issue.message, received: undefined } });
    }
    const book = new ReputationBook({ decay: parsed.data.decay });
    for (const m of parsed.data.members) book.members.set(m.memberId, { ...m, score: Math.fround(m.score) });
    return book;
  }

  /** One float32 tensor per member, `<prefix><memberId>` = [accepted, rejected, score, lastRound]. */
  toTensors(prefix: string): { specs: TensorSpec[]; data: Float32Array } {
    const { members } = this.snapshot();
    const data = new Float32Array(members.length * FIELDS.length);
    members.forEach((m, i) => FIELDS.forEach((f, j) => (data[i * FIELDS.length + j] = m[f])));
    return { specs: members.map((m) => ({ name: `${prefix}${m.memberId}`, shape: [FIELDS.length] })), data };
  }

  /**
   * Replaces the records with those of tensors written by toTensors. `field` names the tensors
   * in errors. Each must have shape [4], whole non-negative counts and a score in [0, 1].
   */
  loadTensors(tensors: readonly { name: string; memberId: string; values: Float32Array }[], field: string): void {
    const loaded = new Map<string, MemberReputation>();
    for (const t of tensors) {
      const where = `${field}.${t.name}`;
      if (t.values.length !== FIELDS.length) {
        throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `reputation tensor ${t.name} holds ${t.values.length} values; it must hold ${FIELDS.join(', ')}`, {
          details: { field: where, expected: [FIELDS.length], received: t.values.length },
        });
      }
      const [accepted, rejected, score, lastRound] = Array.from(t.values) as [number, number, number, number];
      const m = { memberId: t.memberId, accepted, rejected, score, lastRound };
      const check = MemberReputationSchema.safeParse(m);
      if (!check.success) {
        const issue = check.error.issues[0]!;
        throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `reputation tensor ${t.name}: ${issue.path.join('.')}: ${issue.message}`, {
          details: { field: `${where}.${issue.path.join('.')}`, expected: issue.message, received: m[issue.path[0] as keyof typeof m] },
        });
      }
      loaded.set(t.memberId, m);
    }
    this.members.clear();
    for (const [id, m] of loaded) this.members.set(id, m);
  }
}

