// The member side of SecAgg+ as a state machine: one object per member and round, fed the
// server's four requests in order, answering each with a reply (protocol.ts). It does no
// I/O — the caller carries messages — and imports nothing from Node: its cryptography comes
// from the SecAggPrimitives it is given (primitives.ts), node:crypto on Node and @noble in a
// browser, which interoperate byte for byte.
//
// Besides computing its replies, the member is where the protocol's safety checks live,
// because the server is the party it protects itself against (Bonawitz et al. 2017, Fig. 4):
// it shares with at least t holders or not at all, only accepts keys and shares of its own
// neighbours, and in the unmask stage never reveals both the self-mask share and the
// mask-key share of the same member — with both, the server could strip every mask off that
// member's vector. Any refusal ends the member's part in the round.

import { ConcordError, ErrorCode } from '../../protocol/errors.js';
import { parseMessage } from '../../protocol/messages.js';
import { neighbourGraph } from './graph.js';
import { type KeyPair, KEY_BYTES, checkPublicKey, decrypt, encrypt, shareEncryptionKey } from './keys.js';
import { type SignedMask, applyMasks } from './prg.js';
import { type SecAggPrimitives, secureRandomBytes } from './primitives.js';
import {
  type CollectMaskedVectorsReply,
  CollectMaskedVectorsRequestSchema,
  type KeyAuthenticator,
  type MaskedVectorHeader,
  type SecAggConfig,
  type SecAggReply,
  SecAggRequestSchema,
  type SecAggStage,
  type SetupReply,
  SetupRequestSchema,
  type ShareKeysReply,
  ShareKeysRequestSchema,
  type UnmaskReply,
  UnmaskRequestSchema,
  decodeSharePair,
  encodeRingVector,
  encodeSharePair,
  fromBase64,
  keyPayload,
  shareAssociatedData,
  toBase64,
  validateSecAggConfig,
} from './protocol.js';
import { quantizeUpdate } from './quantize.js';
import { shareSecret } from './shamir.js';

/** What a member contributes: its update θ and its weight w (e.g. numExamples). */
export interface MemberUpdate {
  data: Float32Array;
  weight: number;
}

/** In integer encoding: the ring elements themselves, each below 2^(bits − 1); the weight is 1. */
export interface IntegerUpdate {
  integers: Uint32Array;
}

export interface SecAggMemberOptions {
  memberId: string;
  /** The cryptography: nodePrimitives (primitives-node.ts) on Node, noblePrimitives (primitives-noble.ts) in a browser. */
  primitives: SecAggPrimitives;
  /** Signs this member's keys and checks its neighbours'. Default: none (unsigned keys). */
  keyAuthenticator?: KeyAuthenticator;
}

interface Peer {
  index: number;
  /** Raw X25519 public key, checked on arrival. */
  maskPublicKey: Uint8Array;
  /** AES-GCM key for shares exchanged with this peer. */
  shareKey: Uint8Array;
}

interface HeldShares {
  selfMask: Uint8Array;
  maskKey: Uint8Array;
}

type Phase = 'new' | SecAggStage | 'aborted';
const PREVIOUS: Record<SecAggStage, Phase> = { setup: 'new', shareKeys: 'setup', collectMaskedVectors: 'shareKeys', unmask: 'collectMaskedVectors' };

export class SecAggMember {
  readonly memberId: string;
  private readonly primitives: SecAggPrimitives;
  private readonly authenticator: KeyAuthenticator | undefined;
  private phase: Phase = 'new';
  private config!: SecAggConfig;
  private salt!: Uint8Array;
  private index = -1;
  private neighbourIndices = new Set<number>();
  private encryptionKeys!: KeyPair;
  private maskKeys: KeyPair | undefined;
  private selfMaskSeed: Uint8Array | undefined;
  /** Neighbours whose keys arrived in shareKeys, by id. */
  private readonly peers = new Map<string, Peer>();
  /** Shares this member holds, by owner (itself included). */
  private readonly held = new Map<string, HeldShares>();

  constructor(options: SecAggMemberOptions) {
    this.memberId = options.memberId;
    this.primitives = options.primitives;
    this.authenticator = options.keyAuthenticator;
  }

  /** The last stage answered, or 'aborted' after a refusal. */
  get stage(): Phase {
    return this.phase;
  }

  /** Dispatches any request; `update` is needed for collectMaskedVectors. */
  handle(request: unknown, update?: MemberUpdate | IntegerUpdate): SecAggReply {
    const parsed = parseMessage(SecAggRequestSchema, request, 'SecAgg+ request');
    switch (parsed.stage) {
      case 'setup':
        return this.setup(parsed);
      case 'shareKeys':
        return this.shareKeys(parsed);
      case 'collectMaskedVectors':
        if (!update) {
          throw new ConcordError(ErrorCode.INVALID_ARGUMENT, 'collectMaskedVectors needs the member update', { details: { field: 'update', expected: '{ data, weight }', received: 'undefined' } });
        }
        return this.collectMaskedVectors(parsed, update);
      case 'unmask':
        return this.unmask(parsed);
    }
  }

  /** Stage 0/1: accepts the configuration and advertises two fresh X25519 public keys. */
  setup(request: unknown): SetupReply {
    return this.step('setup', () => {
      const { config: raw } = parseMessage(SetupRequestSchema, request, 'SecAgg+ setup request');
      const config = validateSecAggConfig(raw, 'config');
      const index = config.memberIds.indexOf(this.memberId);
      if (index < 0) {
        throw new ConcordError(ErrorCode.FORBIDDEN, `member ${this.memberId} is not among the round's members`, { details: { field: 'config.memberIds', expected: this.memberId, received: config.memberIds.length } });
      }
      this.config = config;
      this.salt = fromBase64(config.roundSeed, 'config.roundSeed');
      this.index = index;
      this.neighbourIndices = new Set(neighbourGraph(this.primitives, config.memberIds.length, config.neighbours, this.salt)[index]);
      this.encryptionKeys = this.primitives.generateKeyPair();
      this.maskKeys = this.primitives.generateKeyPair();
      const keys = { memberId: this.memberId, encryptionPublicKey: toBase64(this.encryptionKeys.publicKey), maskPublicKey: toBase64(this.maskKeys.publicKey) };
      const signature = this.authenticator?.sign(this.memberId, keyPayload(config.roundSeed, keys));
      return { stage: 'setup', roundSeed: config.roundSeed, ...keys, ...(signature === undefined ? {} : { signature }) };
    });
  }

  /** Stage 2: Shamir-shares b_u and s_u^SK among itself and its neighbours, encrypted per holder. */
  shareKeys(request: unknown): ShareKeysReply {
    return this.step('shareKeys', () => {
      const req = parseMessage(ShareKeysRequestSchema, request, 'SecAgg+ shareKeys request');
      this.checkRound(req.roundSeed);
      const { threshold } = this.config;
      const seenKeys = new Set<string>();
      let sawSelf = false;
      for (const [i, entry] of req.publicKeys.entries()) {
        const field = `publicKeys[${i}]`;
        for (const key of [entry.encryptionPublicKey, entry.maskPublicKey]) {
          if (seenKeys.has(key)) throw this.refuse(ErrorCode.INVALID_MESSAGE, `${field} repeats a public key already given; every key must be distinct`, field, 'distinct keys', key);
          seenKeys.add(key);
        }
        if (entry.memberId === this.memberId) {
          if (entry.encryptionPublicKey !== toBase64(this.encryptionKeys.publicKey) || entry.maskPublicKey !== toBase64(this.maskKeys!.publicKey)) {
            throw this.refuse(ErrorCode.INVALID_MESSAGE, `${field} shows this member's keys wrongly`, field, 'the keys this member advertised', entry.memberId);
          }
          sawSelf = true;
          continue;
        }
        const index = this.config.memberIds.indexOf(entry.memberId);
        if (!this.neighbourIndices.has(index)) {
          throw this.refuse(ErrorCode.INVALID_MESSAGE, `${field} is for ${entry.memberId}, which is not a neighbour of ${this.memberId}`, `${field}.memberId`, 'a neighbour', entry.memberId);
        }
        if (this.peers.has(entry.memberId)) throw this.refuse(ErrorCode.INVALID_MESSAGE, `${field} repeats member ${entry.memberId}`, `${field}.memberId`, 'distinct members', entry.memberId);
        if (this.authenticator && !this.authenticator.verify(entry.memberId, keyPayload(this.config.roundSeed, entry), entry.signature)) {
          throw this.refuse(ErrorCode.UNAUTHENTICATED, `${field}: the keys of ${entry.memberId} are not signed by it`, `${field}.signature`, 'a valid signature', entry.signature ?? 'none');
        }
        const encryptionPublicKey = fromBase64(entry.encryptionPublicKey, `${field}.encryptionPublicKey`, KEY_BYTES);
        const maskPublicKey = fromBase64(entry.maskPublicKey, `${field}.maskPublicKey`, KEY_BYTES);
        checkPublicKey(maskPublicKey, `${field}.maskPublicKey`);
        const sharedSecret = this.primitives.agree(this.encryptionKeys.privateKey, encryptionPublicKey, `${field}.encryptionPublicKey`);
        this.peers.set(entry.memberId, { index, maskPublicKey, shareKey: shareEncryptionKey(this.primitives, sharedSecret, this.salt) });
      }
      if (!sawSelf) throw this.refuse(ErrorCode.INVALID_MESSAGE, `publicKeys lacks this member's own keys`, 'publicKeys', this.memberId, 'absent');
      const holders = this.peers.size + 1;
      if (holders < threshold) {
        throw this.refuse(ErrorCode.NOT_ENOUGH_MEMBERS, `${this.memberId} has ${holders - 1} neighbours left; sharing its secrets needs ${threshold} holders including itself`, 'publicKeys', threshold - 1, holders - 1);
      }

      this.selfMaskSeed = secureRandomBytes(KEY_BYTES);
      const peers = [...this.peers.entries()];
      const xs = [this.index + 1, ...peers.map(([, p]) => p.index + 1)];
      const selfMaskShares = shareSecret(this.selfMaskSeed, threshold, xs);
      const maskKeyShares = shareSecret(this.maskKeys!.privateKey, threshold, xs);
      this.held.set(this.memberId, { selfMask: selfMaskShares[0]!.data, maskKey: maskKeyShares[0]!.data });
      const shares = peers.map(([id, peer], i) => {
        const plaintext = encodeSharePair(selfMaskShares[i + 1]!.data, maskKeyShares[i + 1]!.data);
        return { to: id, ciphertext: toBase64(encrypt(this.primitives, peer.shareKey, plaintext, shareAssociatedData(this.memberId, id))) };
      });
      return { stage: 'shareKeys', roundSeed: this.config.roundSeed, memberId: this.memberId, shares };
    });
  }

  /** Stage 3: stores the shares addressed to it and sends its masked, quantized update (base64 in the reply). */
  collectMaskedVectors(request: unknown, update: MemberUpdate | IntegerUpdate): CollectMaskedVectorsReply {
    const { header, maskedVector } = this.maskVector(request, update);
    return { ...header, maskedVector: encodeRingVector(maskedVector) };
  }

  /**
   * Stage 3 with the masked vector as binary, for a transport that carries it beside the JSON
   * reply (the HTTP grid's uint32 tensor): no base64 on either side. The server takes the pair
   * with receiveMaskedVector.
   */
  maskVector(request: unknown, update: MemberUpdate | IntegerUpdate): { header: MaskedVectorHeader; maskedVector: Uint32Array } {
    return this.step('collectMaskedVectors', () => {
      const req = parseMessage(CollectMaskedVectorsRequestSchema, request, 'SecAgg+ collectMaskedVectors request');
      this.checkRound(req.roundSeed);
      const { threshold, vectorLength } = this.config;
      const integer = this.config.encoding === 'integer';
      const values = integer ? (update as Partial<IntegerUpdate>).integers : (update as Partial<MemberUpdate>).data;
      if (!(integer ? values instanceof Uint32Array : values instanceof Float32Array) || values!.length !== vectorLength) {
        throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `the update holds ${values?.length} ${integer ? 'ring elements' : 'values'}; the round aggregates ${vectorLength}`, {
          details: { field: integer ? 'update.integers' : 'update.data', expected: vectorLength, received: values?.length },
        });
      }
      for (const [i, { from, ciphertext }] of req.ciphertexts.entries()) {
        const field = `ciphertexts[${i}]`;
        const peer = this.peers.get(from);
        if (!peer) throw this.refuse(ErrorCode.INVALID_MESSAGE, `${field} comes from ${from}, to which ${this.memberId} sent no shares`, `${field}.from`, 'a neighbour from shareKeys', from);
        if (this.held.has(from)) throw this.refuse(ErrorCode.INVALID_MESSAGE, `${field} repeats sender ${from}`, `${field}.from`, 'one ciphertext per neighbour', from);
        const plaintext = decrypt(this.primitives, peer.shareKey, fromBase64(ciphertext, `${field}.ciphertext`), shareAssociatedData(from, this.memberId), `${field}.ciphertext`);
        this.held.set(from, decodeSharePair(plaintext, `${field}.ciphertext`));
      }
      if (this.held.size < threshold) {
        throw this.refuse(ErrorCode.NOT_ENOUGH_MEMBERS, `${this.memberId} holds shares from ${this.held.size - 1} neighbours; its mask needs ${threshold} holders including itself`, 'ciphertexts', threshold - 1, this.held.size - 1);
      }

      const vector = integer ? integerVector((update as IntegerUpdate).integers, this.config.bits) : quantizeUpdate((update as MemberUpdate).data, (update as MemberUpdate).weight, this.config);
      const masks: SignedMask[] = [{ seed: this.selfMaskSeed!, sign: 1 }];
      for (const id of this.held.keys()) {
        if (id === this.memberId) continue;
        const peer = this.peers.get(id)!;
        // s_uv is the same for u and v; the lower index adds, the higher subtracts, so pairs cancel in the sum.
        masks.push({ seed: this.primitives.agree(this.maskKeys!.privateKey, peer.maskPublicKey), sign: peer.index < this.index ? 1 : -1 });
      }
      // All masks in one pass over the vector (prg.ts): each key stream is read block by block.
      applyMasks(this.primitives, vector, masks, this.salt);
      // The secrets now live only in the shares; nothing else here needs them.
      this.selfMaskSeed = undefined;
      this.maskKeys = undefined;
      return { header: { stage: 'collectMaskedVectors', roundSeed: this.config.roundSeed, memberId: this.memberId }, maskedVector: vector };
    });
  }

  /** Stage 4: self-mask shares of survivors, mask-key shares of dropped members — never both. */
  unmask(request: unknown): UnmaskReply {
    return this.step('unmask', () => {
      const req = parseMessage(UnmaskRequestSchema, request, 'SecAgg+ unmask request');
      this.checkRound(req.roundSeed);
      const survivors = new Set<string>();
      for (const [i, id] of req.survivors.entries()) {
        if (survivors.has(id)) throw this.refuse(ErrorCode.INVALID_MESSAGE, `survivors[${i}] repeats ${id}`, `survivors[${i}]`, 'distinct members', id);
        survivors.add(id);
      }
      const dropped = new Set<string>();
      for (const [i, id] of req.dropped.entries()) {
        const field = `dropped[${i}]`;
        if (survivors.has(id)) {
          throw this.refuse(
            ErrorCode.FORBIDDEN,
            `the server asks for both the self-mask share and the mask-key share of ${id}; together they would unmask ${id}'s input, so ${this.memberId} refuses`,
            field,
            'a member in survivors or in dropped, not both',
            id,
          );
        }
        if (id === this.memberId) throw this.refuse(ErrorCode.FORBIDDEN, `the server lists ${this.memberId} itself as dropped; it is answering, so it refuses`, field, 'another member', id);
        if (dropped.has(id)) throw this.refuse(ErrorCode.INVALID_MESSAGE, `${field} repeats ${id}`, field, 'distinct members', id);
        dropped.add(id);
      }
      for (const [list, ids] of [['survivors', survivors], ['dropped', dropped]] as const) {
        for (const id of ids) {
          if (!this.held.has(id)) throw this.refuse(ErrorCode.INVALID_MESSAGE, `${list} names ${id}, of which ${this.memberId} holds no share`, list, 'members whose shares this member holds', id);
        }
      }
      const shares: UnmaskReply['shares'] = [
        ...[...survivors].map((owner) => ({ owner, secret: 'selfMask' as const, share: toBase64(this.held.get(owner)!.selfMask) })),
        ...[...dropped].map((owner) => ({ owner, secret: 'maskKey' as const, share: toBase64(this.held.get(owner)!.maskKey) })),
      ];
      this.held.clear();
      return { stage: 'unmask', roundSeed: this.config.roundSeed, memberId: this.memberId, shares };
    });
  }

  /** Runs one stage in order; any failure aborts this member's round. */
  private step<T>(stage: SecAggStage, body: () => T): T {
    if (this.phase !== PREVIOUS[stage]) {
      const expected = this.phase === 'aborted' ? 'nothing (the member aborted this round)' : nextStage(this.phase);
      throw new ConcordError(ErrorCode.CONFLICT, `member ${this.memberId} got a ${stage} request; it expects ${expected}`, { details: { field: 'stage', expected, received: stage } });
    }
    try {
      const reply = body();
      this.phase = stage;
      return reply;
    } catch (error) {
      this.phase = 'aborted';
      this.held.clear();
      this.selfMaskSeed = undefined;
      throw error;
    }
  }

  private checkRound(roundSeed: string): void {
    if (roundSeed !== this.config.roundSeed) {
      throw new ConcordError(ErrorCode.STALE_ROUND, `the request belongs to another round (round seed ${roundSeed.slice(0, 12)}…)`, {
        details: { field: 'roundSeed', expected: this.config.roundSeed, received: roundSeed },
      });
    }
  }

  private refuse(code: (typeof ErrorCode)[keyof typeof ErrorCode], message: string, field: string, expected: unknown, received: unknown): ConcordError {
    return new ConcordError(code, message, { details: { field, expected, received } });
  }
}

function nextStage(phase: Phase): string {
  const order: Phase[] = ['new', 'setup', 'shareKeys', 'collectMaskedVectors', 'unmask'];
  const next = order[order.indexOf(phase) + 1];
  return next === undefined ? 'nothing (the round is complete)' : `a ${next} request`;
}

/** The ring vector of an integer update: its elements, each checked below 2^(bits − 1) so the sum cannot wrap, then weight 1. */
function integerVector(integers: Uint32Array, bits: number): Uint32Array {
  const limit = 2 ** (bits - 1);
  const out = new Uint32Array(integers.length + 1);
  for (let i = 0; i < integers.length; i++) {
    const v = integers[i]!;
    if (v >= limit) {
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `update.integers[${i}] is ${v}; with ${bits} bits each element must be below 2^${bits - 1} so that the sum cannot wrap`, {
        details: { field: `update.integers[${i}]`, expected: `< ${limit}`, received: v },
      });
    }
    out[i] = v;
  }
  out[integers.length] = 1;
  return out;
}
