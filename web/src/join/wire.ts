// The browser member's side of the wire protocol (docs/protocol.md), as src/node/client.ts
// speaks it: every request signed with the member's Ed25519 key over the same canonical
// bytes (src/governance/canonical.ts), tasks long-polled, results sent as binary frames.
// The key pair is made by WebCrypto with a non-extractable private key and kept in
// IndexedDB, so a reload keeps the member's identity and no script can read the key out.
// Frames go through the Node member's own codec (src/protocol/frame.ts), which is browser-safe.

import { SigningDomain, signingBytes } from '../../../src/governance/canonical.js';
import { base64url, sha256Hex } from '../web-crypto.js';
import { type LedgerStore, parseLedger } from '../../../src/node/privacy-guard.js';
import { PrivacyBudgetLedger } from '../../../src/privacy/dp/budget.js';
import { FRAME_CONTENT_TYPE, decodeFrame, encodeFrame } from '../../../src/protocol/frame.js';
import { PROTOCOL_HEADER, PROTOCOL_VERSION, type DatasetDescriptor, type ResultHeader, type TaskHeader } from '../../../src/protocol/messages.js';
import type { Parameters } from '../../../src/protocol/tensors.js';

export interface BrowserIdentity {
  keys: CryptoKeyPair;
  /** base64url of the raw 32-byte public key, as the coordinator stores it. */
  publicKey: string;
}

export interface StoredMember {
  memberId: string;
  name: string;
  url: string;
  /** The data owner's public key (base64url) whose plan approvals this member requires, when one was given. */
  ownerKey?: string;
}

const DB = 'concord-member';
const STORE = 'identity';

function idb<T>(mode: IDBTransactionMode, run: (store: IDBObjectStore) => IDBRequest): Promise<T> {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(DB, 1);
    open.onupgradeneeded = () => open.result.createObjectStore(STORE);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const request = run(open.result.transaction(STORE, mode).objectStore(STORE));
      request.onsuccess = () => resolve(request.result as T);
      request.onerror = () => reject(request.error);
    };
  });
}

/** The key pair kept in this browser, made on first use. */
export async function loadIdentity(): Promise<BrowserIdentity> {
  let keys = await idb<CryptoKeyPair | undefined>('readonly', (s) => s.get('keys'));
  if (!keys) {
    // Non-extractable: the private key can sign but can never be exported, even by this page.
    keys = (await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])) as CryptoKeyPair;
    await idb('readwrite', (s) => s.put(keys, 'keys'));
  }
  const raw = new Uint8Array(await crypto.subtle.exportKey('raw', keys.publicKey));
  return { keys, publicKey: base64url(raw) };
}

/**
 * The member's own privacy ledger (src/node/privacy-guard.ts) in IndexedDB, one per member
 * name: it survives reloads, and a put is one transaction, so a crash keeps the old ledger or the new.
 */
export function ledgerStore(memberName: string): LedgerStore {
  const key = `ledger:${memberName}`;
  return {
    async load() {
      const saved = await idb<unknown>('readonly', (s) => s.get(key));
      return saved === undefined ? new PrivacyBudgetLedger() : parseLedger(saved, `in this browser (${key})`);
    },
    async save(ledger) {
      await idb('readwrite', (s) => s.put(ledger.toJSON(), key));
    },
  };
}

export const loadMember = (): Promise<StoredMember | undefined> => idb('readonly', (s) => s.get('member'));
export const saveMember = (member: StoredMember): Promise<unknown> => idb('readwrite', (s) => s.put(member, 'member'));

/** The concord-* headers of src/governance/signed-request.ts, made with WebCrypto. */
export async function signHeaders(identity: BrowserIdentity, method: string, target: string, body: Uint8Array, member: string): Promise<Record<string, string>> {
  const timestamp = Date.now();
  const nonce = base64url(crypto.getRandomValues(new Uint8Array(16)));
  const bytes = signingBytes(SigningDomain.REQUEST, { method: method.toUpperCase(), target, bodySha256: await sha256Hex(body), timestamp, nonce, member });
  const signature = new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, identity.keys.privateKey, bytes as BufferSource));
  return { 'concord-member': member, 'concord-timestamp': String(timestamp), 'concord-nonce': nonce, 'concord-signature': base64url(signature) };
}

export class WireError extends Error {
  constructor(readonly code: string, message: string, readonly status: number) {
    super(message);
  }
}

export class BrowserClient {
  memberId: string | null = null;

  constructor(readonly url: string, readonly identity: BrowserIdentity) {}

  async enroll(name: string, dataset: DatasetDescriptor, invitation?: string): Promise<string> {
    const body = { protocolVersion: PROTOCOL_VERSION, name, dataset, publicKey: this.identity.publicKey, ...(invitation ? { invitation } : {}) };
    const response = await this.request('POST', '/v1/members/enroll', name, new TextEncoder().encode(JSON.stringify(body)), 'application/json');
    this.memberId = ((await response.json()) as { memberId: string }).memberId;
    return this.memberId;
  }

  async nextTask(waitMs: number): Promise<{ header: TaskHeader; parameters: Parameters | null } | null> {
    const response = await this.request('GET', `/v1/tasks/next?waitMs=${Math.round(waitMs)}`, this.id());
    if (response.status === 204) return null;
    const frame = decodeFrame(new Uint8Array(await response.arrayBuffer()));
    return { header: frame.header as unknown as TaskHeader, parameters: frame.parameters ?? null };
  }

  async heartbeat(): Promise<void> {
    await this.request('POST', '/v1/members/heartbeat', this.id(), new TextEncoder().encode('{}'), 'application/json');
  }

  async submitResult(header: Omit<ResultHeader, 'protocolVersion'>, parameters?: Parameters): Promise<void> {
    const body = encodeFrame({ protocolVersion: PROTOCOL_VERSION, ...header }, parameters);
    await this.request('POST', `/v1/tasks/${encodeURIComponent(header.taskId)}/result`, this.id(), body, FRAME_CONTENT_TYPE);
  }

  async decline(taskId: string, reason: string): Promise<void> {
    await this.request('POST', `/v1/tasks/${encodeURIComponent(taskId)}/decline`, this.id(), new TextEncoder().encode(JSON.stringify({ reason })), 'application/json');
  }

  private id(): string {
    if (!this.memberId) throw new WireError('CONCORD_ERR_UNAUTHENTICATED', 'not enrolled yet', 401);
    return this.memberId;
  }

  private async request(method: string, path: string, signAs: string, body?: Uint8Array, contentType?: string): Promise<Response> {
    const headers: Record<string, string> = { [PROTOCOL_HEADER]: String(PROTOCOL_VERSION), ...(await signHeaders(this.identity, method, path, body ?? new Uint8Array(0), signAs)) };
    if (contentType) headers['content-type'] = contentType;
    const response = await fetch(this.url + path, { method, headers, ...(body ? { body: body as BodyInit } : {}) });
    if (response.ok) return response;
    let error: { code?: string; message?: string } = {};
    try {
      error = ((await response.json()) as { error?: typeof error }).error ?? {};
    } catch {
      // not the coordinator's error body
    }
    throw new WireError(error.code ?? 'CONCORD_ERR_INTERNAL', error.message ?? `coordinator answered HTTP ${response.status}`, response.status);
  }
}
