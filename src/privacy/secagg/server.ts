// The server side of SecAgg+ as a state machine: it hands out the requests of each stage,
// takes the replies that arrive, and — when the caller decides a stage is over (deadline or
// all replies in) — works out who dropped, routes what must be routed and moves on. At the
// end it removes the masks and returns Σ wθ, Σ w and the weighted average, never having seen
// an unmasked individual vector (Bonawitz et al. 2017, Fig. 4; neighbourhoods from Bell et
// al. 2020). Like the member it does no I/O. Masked vectors are summed as they arrive, so
// memory stays at one vector however many members there are.
//
// Summing elsewhere ({ sumsMaskedVectors: false }, hierarchical aggregation): the server runs
// every stage but leaves the masked vectors to whoever sums them (a shard aggregator), and at
// the end hands out the masks to take off that sum (unmaskPlan) instead of the result;
// unmaskRingSum then does on that sum what closing unmask does here.
//
// Dropouts: U1 ⊇ U2 ⊇ U3 ⊇ U4 are the members that answered setup, shareKeys,
// collectMaskedVectors and unmask. A member whose neighbourhood has shrunk below t − 1 before
// it has masked anything is excluded (its secrets could not be recovered), which may
// exclude others in turn; excluded() names each such member and the neighbours it lacked.
// A member of U3 that misses unmask still counts: its self-mask is rebuilt from its
// neighbours' shares. The round fails with NOT_ENOUGH_MEMBERS, naming the
// member and the shortfall, when a secret it needs has fewer than t shares.

import { ConcordError, ErrorCode } from '../../protocol/errors.js';
import { parseMessage } from '../../protocol/messages.js';
import { neighbourGraph } from './graph.js';
import { KEY_BYTES, checkPublicKey } from './keys.js';
import { type SignedMask, addInto, applyMasks } from './prg.js';
import { equalBytes } from './primitives.js';
import { nodePrimitives as primitives } from './primitives-node.js';
import {
  type AdvertisedKeys,
  type CollectMaskedVectorsRequest,
  type MaskedVectorHeader,
  MaskedVectorHeaderSchema,
  type SecAggConfig,
  type SecAggReply,
  type SecAggRequest,
  SecAggReplySchema,
  type SecAggStage,
  STAGES,
  type SetupRequest,
  type ShareKeysRequest,
  type UnmaskRequest,
  decodeRingVector,
  fromBase64,
  validateSecAggConfig,
} from './protocol.js';
import { quantizationLevels } from './quantize.js';
import { type Share, decodeShareData, reconstructSecret } from './shamir.js';

export interface SecAggResult {
  /** Σ w·θ over the contributors, in the members' units (dequantized). */
  weightedSum: Float32Array;
  /** Integer encoding: the exact element-wise sum of the members' ring elements (without the weight element). */
  integerSum?: Uint32Array;
  /** Σ w over the contributors. */
  totalWeight: number;
  /** Σ wθ / Σ w, computed from the exact integer sums. */
  average: Float32Array;
  /** Members whose masked vectors are in the sum (U3), in config order. */
  contributors: string[];
  /** Members that took no part in each stage (did not answer, or were excluded before it). */
  dropouts: Record<SecAggStage, string[]>;
}

/** What closing unmask yields when the masked vectors are summed elsewhere: the masks to take off that sum. */
export interface SecAggUnmaskPlan {
  /** Σ sign·PRG(seed) to add to the masked sum (mod 2^32), under the salt of config.roundSeed. */
  masks: SignedMask[];
  contributors: string[];
  dropouts: Record<SecAggStage, string[]>;
}

export type SecAggStep =
  | { done: false; stage: SecAggStage; requests: Map<string, SecAggRequest> }
  | { done: true; result: SecAggResult };

export interface Shortfall {
  memberId: string;
  secret: 'selfMask' | 'maskKey';
  needed: number;
  available: number;
}

/** A member left out before masking because too few of its neighbours remained to hold its secrets. */
export interface Exclusion {
  memberId: string;
  /** The stage after which it was excluded; it takes no part in the next. */
  after: SecAggStage;
  /** Its neighbours that were gone by then: dropped out, or excluded before it. */
  missing: string[];
  /** Neighbours it still had, and how many its secrets need (t − 1; with itself, t holders). */
  remaining: number;
  needed: number;
}

/** "only 1 of its 4 neighbours remains (m1, m2, m3 gone); its secrets need 2". */
export function describeExclusion(e: Exclusion): string {
  const total = e.remaining + e.missing.length;
  return `only ${e.remaining} of its ${total} neighbours ${e.remaining === 1 ? 'remains' : 'remain'} (${e.missing.join(', ')} gone); its secrets need ${e.needed}`;
}

interface MemberKeys {
  advertised: AdvertisedKeys;
  /** Raw X25519 public key, checked on arrival. */
  maskPublicKey: Uint8Array;
}

const SECRET_NAMES = { selfMask: 'self-mask', maskKey: 'mask key' } as const;

export class SecAggServer {
  readonly config: SecAggConfig;
  private readonly salt: Uint8Array;
  private readonly ids: string[];
  private readonly indexOf: Map<string, number>;
  private readonly neighbours: Set<number>[];
  private current: SecAggStage | 'new' | 'done' = 'new';
  /** Members sent a request in the current stage, and those that have answered it. */
  private asked = new Set<number>();
  private answered = new Set<number>();
  private readonly keys = new Map<number, MemberKeys>();
  /** Ciphertexts by recipient: from → base64 ciphertext. */
  private readonly mailbox = new Map<number, Map<number, string>>();
  private u2 = new Set<number>();
  private u3 = new Set<number>();
  private readonly sum: Uint32Array;
  private readonly unmaskAsked = new Map<number, { survivors: Set<number>; dropped: Set<number> }>();
  private readonly selfMaskShares = new Map<number, Share[]>();
  private readonly maskKeyShares = new Map<number, Share[]>();
  private readonly dropouts: Record<SecAggStage, string[]> = { setup: [], shareKeys: [], collectMaskedVectors: [], unmask: [] };
  private readonly exclusions: Exclusion[] = [];

  private readonly sumsMaskedVectors: boolean;

  constructor(config: SecAggConfig, options: { sumsMaskedVectors?: boolean } = {}) {
    this.config = validateSecAggConfig(config);
    this.sumsMaskedVectors = options.sumsMaskedVectors ?? true;
    this.salt = fromBase64(this.config.roundSeed, 'config.roundSeed');
    this.ids = this.config.memberIds;
    this.indexOf = new Map(this.ids.map((id, i) => [id, i]));
    this.neighbours = neighbourGraph(primitives, this.ids.length, this.config.neighbours, this.salt).map((list) => new Set(list));
    this.sum = new Uint32Array(this.sumsMaskedVectors ? this.config.vectorLength + 1 : 0);
  }

  /** The stage whose replies are being collected ('new' before start, 'done' after the result). */
  get stage(): SecAggStage | 'new' | 'done' {
    return this.current;
  }

  /** Neighbour ids of a member, as every party computes them from the round seed. */
  neighboursOf(memberId: string): string[] {
    return [...this.neighbours[this.memberIndex(memberId, 'memberId')]!].map((i) => this.ids[i]!);
  }

  /** Members excluded so far for want of neighbours, and which neighbours they lacked. */
  excluded(): Exclusion[] {
    return this.exclusions.map((e) => ({ ...e, missing: [...e.missing] }));
  }

  /** Stage setup: the same request to every member. */
  start(): Map<string, SetupRequest> {
    this.expectStage('new', 'start');
    this.current = 'setup';
    this.asked = new Set(this.ids.map((_, i) => i));
    this.answered = new Set();
    const request: SetupRequest = { stage: 'setup', config: this.config };
    return new Map(this.ids.map((id) => [id, request]));
  }

  /** Takes one member's reply to the current stage. */
  receive(reply: unknown): void {
    this.accept(parseMessage(SecAggReplySchema, reply, 'SecAgg+ reply'));
  }

  /**
   * Takes a collectMaskedVectors reply whose masked vector came beside it as binary
   * (SecAggMember.maskVector): the same checks as receive, without base64.
   */
  receiveMaskedVector(header: unknown, maskedVector: Uint32Array): void {
    const h = parseMessage(MaskedVectorHeaderSchema, header, 'SecAgg+ collectMaskedVectors reply');
    const length = this.config.vectorLength + 1;
    if (!(maskedVector instanceof Uint32Array) || maskedVector.length !== length) {
      const received = maskedVector instanceof Uint32Array ? maskedVector.length : typeof maskedVector;
      throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `maskedVector holds ${String(received)} ring elements; expected ${length} (vectorLength + 1 for the weight)`, {
        details: { field: 'maskedVector', expected: length, received },
      });
    }
    this.accept(h, maskedVector);
  }

  private accept(r: SecAggReply | MaskedVectorHeader, maskedVector?: Uint32Array): void {
    if (this.current === 'new' || this.current === 'done' || r.stage !== this.current) {
      throw new ConcordError(ErrorCode.CONFLICT, `a ${r.stage} reply arrived while the server is ${this.current === 'new' || this.current === 'done' ? `in state ${this.current}` : `collecting ${this.current} replies`}`, {
        details: { field: 'stage', expected: this.current, received: r.stage },
      });
    }
    if (r.roundSeed !== this.config.roundSeed) {
      throw new ConcordError(ErrorCode.STALE_ROUND, `the reply from ${r.memberId} belongs to another round`, { details: { field: 'roundSeed', expected: this.config.roundSeed, received: r.roundSeed } });
    }
    const u = this.memberIndex(r.memberId, 'memberId');
    if (!this.asked.has(u)) {
      throw new ConcordError(ErrorCode.FORBIDDEN, `${r.memberId} was not asked for ${r.stage} (it dropped out or was excluded earlier)`, { details: { field: 'memberId', expected: 'a member asked in this stage', received: r.memberId } });
    }
    if (this.answered.has(u)) {
      throw new ConcordError(ErrorCode.CONFLICT, `${r.memberId} already answered ${r.stage}`, { details: { field: 'memberId', expected: 'one reply per member and stage', received: r.memberId } });
    }
    switch (r.stage) {
      case 'setup': {
        const maskPublicKey = fromBase64(r.maskPublicKey, 'maskPublicKey', KEY_BYTES);
        checkPublicKey(maskPublicKey, 'maskPublicKey');
        checkPublicKey(fromBase64(r.encryptionPublicKey, 'encryptionPublicKey', KEY_BYTES), 'encryptionPublicKey');
        this.keys.set(u, {
          advertised: { memberId: r.memberId, encryptionPublicKey: r.encryptionPublicKey, maskPublicKey: r.maskPublicKey, ...(r.signature === undefined ? {} : { signature: r.signature }) },
          maskPublicKey,
        });
        break;
      }
      case 'shareKeys': {
        const expected = new Set([...this.neighbours[u]!].filter((v) => this.asked.has(v)));
        const got = new Map<number, string>();
        for (const [i, { to, ciphertext }] of r.shares.entries()) {
          const v = this.indexOf.get(to);
          if (v === undefined || !expected.has(v) || got.has(v)) {
            throw new ConcordError(ErrorCode.INVALID_MESSAGE, `${r.memberId} sent a share to ${to}, which is not one of its remaining neighbours or was already served`, {
              details: { field: `shares[${i}].to`, expected: [...expected].map((x) => this.ids[x]), received: to },
            });
          }
          got.set(v, ciphertext);
        }
        if (got.size !== expected.size) {
          throw new ConcordError(ErrorCode.INVALID_MESSAGE, `${r.memberId} sent shares to ${got.size} neighbours; it was given ${expected.size}`, {
            details: { field: 'shares', expected: expected.size, received: got.size },
          });
        }
        for (const [v, ciphertext] of got) {
          let box = this.mailbox.get(v);
          if (!box) this.mailbox.set(v, (box = new Map()));
          box.set(u, ciphertext);
        }
        break;
      }
      case 'collectMaskedVectors':
        // Without a binary vector the reply carries it as base64; an absent one decodes as empty and is refused.
        if (this.sumsMaskedVectors) addInto(this.sum, maskedVector ?? decodeRingVector('maskedVector' in r ? r.maskedVector : '', this.config.vectorLength + 1, 'maskedVector'));
        break;
      case 'unmask': {
        const asked = this.unmaskAsked.get(u)!;
        const seen = { selfMask: new Set<number>(), maskKey: new Set<number>() };
        const parsed: { owner: number; secret: 'selfMask' | 'maskKey'; share: Share }[] = [];
        for (const [i, { owner, secret, share }] of r.shares.entries()) {
          const field = `shares[${i}]`;
          const o = this.indexOf.get(owner);
          const allowed = secret === 'selfMask' ? asked.survivors : asked.dropped;
          if (o === undefined || !allowed.has(o) || seen[secret].has(o)) {
            throw new ConcordError(ErrorCode.INVALID_MESSAGE, `${r.memberId} sent a ${SECRET_NAMES[secret]} share of ${owner} that was not asked for`, { details: { field: `${field}.owner`, expected: 'an owner from the unmask request', received: owner } });
          }
          seen[secret].add(o);
          const data = fromBase64(share, `${field}.share`);
          try {
            decodeShareData(data, `${field}.share`);
          } catch (cause) {
            throw new ConcordError(ErrorCode.INVALID_MESSAGE, `${r.memberId} sent a malformed share of ${owner}`, { details: { field: `${field}.share`, expected: 'Shamir share bytes', received: data.length }, cause });
          }
          parsed.push({ owner: o, secret, share: { x: u + 1, data } });
        }
        if (seen.selfMask.size !== asked.survivors.size || seen.maskKey.size !== asked.dropped.size) {
          throw new ConcordError(ErrorCode.INVALID_MESSAGE, `${r.memberId} sent ${seen.selfMask.size + seen.maskKey.size} shares; ${asked.survivors.size + asked.dropped.size} were asked for`, {
            details: { field: 'shares', expected: asked.survivors.size + asked.dropped.size, received: seen.selfMask.size + seen.maskKey.size },
          });
        }
        for (const p of parsed) {
          const store = p.secret === 'selfMask' ? this.selfMaskShares : this.maskKeyShares;
          let list = store.get(p.owner);
          if (!list) store.set(p.owner, (list = []));
          list.push(p.share);
        }
        break;
      }
    }
    this.answered.add(u);
  }

  /** Closes the current stage: the requests of the next one, or the result after unmask. */
  advance(): SecAggStep {
    switch (this.current) {
      case 'setup':
        return this.closeSetup();
      case 'shareKeys':
        return this.closeShareKeys();
      case 'collectMaskedVectors':
        return this.closeMaskedVectors();
      case 'unmask':
        if (!this.sumsMaskedVectors) throw new ConcordError(ErrorCode.CONFLICT, 'this server does not sum the masked vectors; close unmask with unmaskPlan()', { details: { field: 'stage' } });
        return { done: true, result: this.closeUnmask() };
      default:
        throw new ConcordError(ErrorCode.CONFLICT, `advance() called in state ${this.current}; call start() first, and nothing after the result`, {
          details: { field: 'stage', expected: STAGES.join(' | '), received: this.current },
        });
    }
  }

  private closeSetup(): SecAggStep {
    const u1 = this.prune(this.closeStage('setup'), 'setup', 'shareKeys');
    this.requireMembers(u1, 'setup');
    const requests = new Map<string, SecAggRequest>();
    for (const u of u1) {
      const members = [u, ...[...this.neighbours[u]!].filter((v) => u1.has(v))];
      const request: ShareKeysRequest = { stage: 'shareKeys', roundSeed: this.config.roundSeed, publicKeys: members.map((v) => this.keys.get(v)!.advertised) };
      requests.set(this.ids[u]!, request);
    }
    return this.open('shareKeys', u1, requests);
  }

  private closeShareKeys(): SecAggStep {
    const u2 = this.prune(this.closeStage('shareKeys'), 'shareKeys', 'collectMaskedVectors');
    this.requireMembers(u2, 'shareKeys');
    this.u2 = u2;
    const requests = new Map<string, SecAggRequest>();
    for (const u of u2) {
      const box = this.mailbox.get(u) ?? new Map<number, string>();
      const ciphertexts = [...box].filter(([v]) => u2.has(v)).map(([v, ciphertext]) => ({ from: this.ids[v]!, ciphertext }));
      const request: CollectMaskedVectorsRequest = { stage: 'collectMaskedVectors', roundSeed: this.config.roundSeed, ciphertexts };
      requests.set(this.ids[u]!, request);
    }
    this.mailbox.clear();
    return this.open('collectMaskedVectors', u2, requests);
  }

  private closeMaskedVectors(): SecAggStep {
    const u3 = this.closeStage('collectMaskedVectors');
    this.requireMembers(u3, 'collectMaskedVectors');
    this.u3 = u3;
    // Fail now rather than after another exchange if some secret already lacks holders.
    this.throwShortfalls(this.shortfalls((_owner, holders) => holders.filter((h) => u3.has(h)).length));
    const requests = new Map<string, SecAggRequest>();
    for (const u of u3) {
      const survivors = new Set([u, ...[...this.neighbours[u]!].filter((v) => u3.has(v))]);
      const dropped = new Set([...this.neighbours[u]!].filter((v) => this.u2.has(v) && !u3.has(v)));
      this.unmaskAsked.set(u, { survivors, dropped });
      const request: UnmaskRequest = { stage: 'unmask', roundSeed: this.config.roundSeed, survivors: [...survivors].map((v) => this.ids[v]!), dropped: [...dropped].map((v) => this.ids[v]!) };
      requests.set(this.ids[u]!, request);
    }
    return this.open('unmask', u3, requests);
  }

  /** Closes unmask when the masked vectors are summed elsewhere: the masks to take off that sum. */
  unmaskPlan(): SecAggUnmaskPlan {
    this.expectStage('unmask', 'unmaskPlan');
    if (this.sumsMaskedVectors) throw new ConcordError(ErrorCode.CONFLICT, 'this server sums the masked vectors itself; close unmask with advance()', { details: { field: 'stage' } });
    const masks = this.closeUnmaskMasks();
    this.current = 'done';
    return { masks, contributors: this.contributors(), dropouts: this.dropoutsSoFar() };
  }

  private closeUnmask(): SecAggResult {
    const masks = this.closeUnmaskMasks();
    applyMasks(primitives, this.sum, masks, this.salt);
    this.current = 'done';
    return decodeRingSum(this.config, this.sum, this.contributors(), this.dropoutsSoFar());
  }

  /** Every mask to take off the sum, gathered before the sum is touched, so a wrong share is refused first. */
  private closeUnmaskMasks(): SignedMask[] {
    this.closeStage('unmask');
    this.throwShortfalls(this.shortfalls((owner, _holders, secret) => (secret === 'selfMask' ? this.selfMaskShares : this.maskKeyShares).get(owner)?.length ?? 0));
    const t = this.config.threshold;
    const masks: SignedMask[] = [...this.u3].map((u) => ({ seed: reconstructSecret(this.selfMaskShares.get(u)!, t), sign: -1 }));
    for (const v of this.droppedAfterSharing()) {
      const survivors = [...this.neighbours[v]!].filter((u) => this.u3.has(u));
      if (survivors.length === 0) continue;
      const privateKey = reconstructSecret(this.maskKeyShares.get(v)!, t);
      if (privateKey.length !== KEY_BYTES || !equalBytes(primitives.publicKeyOf(privateKey), this.keys.get(v)!.maskPublicKey)) {
        throw new ConcordError(ErrorCode.INVALID_MESSAGE, `the mask-key shares of ${this.ids[v]} do not rebuild the key it advertised: a holder sent a wrong share`, {
          details: { field: `shares.${this.ids[v]}.maskKey`, expected: this.keys.get(v)!.advertised.maskPublicKey, received: 'another key' },
        });
      }
      for (const u of survivors) {
        // u added +PRG(s_uv) if v < u, −PRG(s_uv) if v > u; take it back out.
        masks.push({ seed: primitives.agree(privateKey, this.keys.get(u)!.maskPublicKey, `keys.${this.ids[u]}.maskPublicKey`), sign: v < u ? -1 : 1 });
      }
    }
    return masks;
  }

  private contributors(): string[] {
    return [...this.u3].sort((a, b) => a - b).map((i) => this.ids[i]!);
  }

  private dropoutsSoFar(): Record<SecAggStage, string[]> {
    return { setup: [...this.dropouts.setup], shareKeys: [...this.dropouts.shareKeys], collectMaskedVectors: [...this.dropouts.collectMaskedVectors], unmask: [...this.dropouts.unmask] };
  }

  /** Members of U2 that sent no masked vector: their pairwise masks must be removed. */
  private droppedAfterSharing(): number[] {
    return [...this.u2].filter((v) => !this.u3.has(v));
  }

  /** Secrets that `available(owner, holders, secret)` says have fewer than t shares. */
  private shortfalls(available: (owner: number, holders: number[], secret: 'selfMask' | 'maskKey') => number): Shortfall[] {
    const t = this.config.threshold;
    const out: Shortfall[] = [];
    for (const u of this.u3) {
      const holders = [u, ...[...this.neighbours[u]!].filter((v) => this.u2.has(v))];
      const n = available(u, holders, 'selfMask');
      if (n < t) out.push({ memberId: this.ids[u]!, secret: 'selfMask', needed: t, available: n });
    }
    for (const v of this.droppedAfterSharing()) {
      const holders = [...this.neighbours[v]!].filter((u) => this.u2.has(u));
      if (!holders.some((u) => this.u3.has(u))) continue;
      const n = available(v, holders, 'maskKey');
      if (n < t) out.push({ memberId: this.ids[v]!, secret: 'maskKey', needed: t, available: n });
    }
    return out;
  }

  private throwShortfalls(shortfalls: Shortfall[]): void {
    if (shortfalls.length === 0) return;
    const first = shortfalls[0]!;
    const more = shortfalls.length > 1 ? ` (and ${shortfalls.length - 1} more secrets short)` : '';
    this.current = 'done';
    throw new ConcordError(
      ErrorCode.NOT_ENOUGH_MEMBERS,
      `member ${first.memberId}'s ${SECRET_NAMES[first.secret]} needs ${first.needed} shares, only ${first.available} survivors hold one${more}; the round cannot be unmasked`,
      { details: { field: `shares.${first.memberId}.${first.secret}`, expected: first.needed, received: first.available, shortfalls } },
    );
  }

  /**
   * Excludes, until none is left, members with fewer than t − 1 neighbours in the set: their
   * secrets could never be rebuilt. Called before anything is masked, so it is safe.
   */
  private prune(set: Set<number>, after: SecAggStage, nextStage: SecAggStage): Set<number> {
    const t = this.config.threshold;
    const kept = new Set(set);
    for (let changed = true; changed; ) {
      changed = false;
      for (const u of kept) {
        let n = 1;
        for (const v of this.neighbours[u]!) if (kept.has(v)) n++;
        if (n < t) {
          kept.delete(u);
          this.dropouts[nextStage].push(this.ids[u]!);
          const missing = [...this.neighbours[u]!].filter((v) => !kept.has(v)).sort((a, b) => a - b).map((v) => this.ids[v]!);
          this.exclusions.push({ memberId: this.ids[u]!, after, missing, remaining: n - 1, needed: t - 1 });
          changed = true;
        }
      }
    }
    return kept;
  }

  private requireMembers(set: Set<number>, stage: SecAggStage): void {
    const t = this.config.threshold;
    if (set.size >= t) return;
    this.current = 'done';
    const excluded = this.exclusions.filter((e) => e.after === stage);
    const why = excluded.length === 0 ? '' : ` (excluded for want of neighbours: ${excluded.map((e) => `${e.memberId}, ${describeExclusion(e)}`).join('; ')})`;
    throw new ConcordError(ErrorCode.NOT_ENOUGH_MEMBERS, `only ${set.size} members remain after ${stage}${why}; secure aggregation needs at least the threshold, ${t}`, {
      details: { field: 'members', expected: `>= ${t}`, received: set.size, stage, excluded },
    });
  }

  /** Records the members asked but silent in the stage; returns those that answered. */
  private closeStage(stage: SecAggStage): Set<number> {
    for (const u of this.asked) if (!this.answered.has(u)) this.dropouts[stage].push(this.ids[u]!);
    return new Set([...this.answered].sort((a, b) => a - b));
  }

  private open(stage: SecAggStage, members: Set<number>, requests: Map<string, SecAggRequest>): SecAggStep {
    this.current = stage;
    this.asked = new Set(members);
    this.answered = new Set();
    return { done: false, stage, requests };
  }

  private expectStage(state: SecAggStage | 'new' | 'done', call: string): void {
    if (this.current !== state) {
      throw new ConcordError(ErrorCode.CONFLICT, `${call}() called in state ${this.current}; it belongs to state ${state}`, { details: { field: 'stage', expected: state, received: this.current } });
    }
  }

  private memberIndex(memberId: string, field: string): number {
    const i = this.indexOf.get(memberId);
    if (i === undefined) throw new ConcordError(ErrorCode.FORBIDDEN, `${memberId} is not a member of this round`, { details: { field, expected: 'one of config.memberIds', received: memberId } });
    return i;
  }
}

/** Takes a plan's masks off a sum of masked vectors (summed elsewhere), in place: then it is the sum of the members' own vectors. */
export function unmaskRingSum(config: SecAggConfig, sum: Uint32Array, masks: readonly SignedMask[]): void {
  if (sum.length !== config.vectorLength + 1) {
    throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `a masked sum of ${sum.length} ring elements; the configuration has ${config.vectorLength + 1}`, { details: { field: 'sum', expected: config.vectorLength + 1, received: sum.length } });
  }
  applyMasks(primitives, sum, masks, fromBase64(config.roundSeed, 'config.roundSeed'));
}

/** The result from the unmasked ring sum: dequantized Σ wθ, Σ w and the average. */
export function decodeRingSum(config: SecAggConfig, sum: Uint32Array, contributors: string[], dropouts: Record<SecAggStage, string[]>): SecAggResult {
  const { clippingRange: c, bits, maxWeight, vectorLength: n } = config;
  const signed = (x: number) => (x >= 2 ** 31 ? x - 2 ** 32 : x);
  const q = quantizationLevels(bits);
  const qw = signed(sum[n]!);
  if (qw <= 0) {
    throw new ConcordError(ErrorCode.NOT_ENOUGH_MEMBERS, `the contributors' weights sum to ${(qw * maxWeight) / q}; an average needs a positive total weight`, {
      details: { field: 'weight', expected: '> 0', received: (qw * maxWeight) / q },
    });
  }
  const weightedSum = new Float32Array(n);
  const average = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const x = signed(sum[i]!);
    weightedSum[i] = (x * c * maxWeight) / q;
    average[i] = (x * c) / qw;
  }
  return { weightedSum, ...(config.encoding === 'integer' ? { integerSum: sum.slice(0, n) } : {}), totalWeight: (qw * maxWeight) / q, average, contributors, dropouts };
}
