// A data owner's decision on a plan, signed in the browser with WebCrypto Ed25519. The
// signed bytes and the canonical JSON come from src/governance (the coordinator verifies
// with the same functions); the private key is held in memory only, never sent or stored.
import { approvalSigningBytes, type UnsignedApproval } from '../../src/governance/approval-bytes.js';
import { canonicalBytes } from '../../src/governance/canonical.js';
import type { PlanApproval } from './api.js';
import { base64url, sha256Hex } from './web-crypto.js';

export interface OwnerIdentity {
  publicKey: string;
  privateKey: string;
}

const KEY32 = /^[A-Za-z0-9_-]{43}$/;

/** Reads an identity file (`{publicKey, privateKey}`, base64url raw keys); throws saying what is wrong. */
export function parseIdentity(text: string): OwnerIdentity {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error('the identity is not JSON; paste the whole identity file');
  }
  const record = (value ?? {}) as Record<string, unknown>;
  for (const field of ['publicKey', 'privateKey'] as const) {
    if (typeof record[field] !== 'string' || !KEY32.test(record[field])) throw new Error(`${field}: expected a raw 32-byte Ed25519 key in base64url (43 characters)`);
  }
  return { publicKey: record.publicKey as string, privateKey: record.privateKey as string };
}


/** SHA-256 (hex) of the plan's canonical JSON: what planHash computes on the coordinator. */
export async function planHashInBrowser(plan: unknown): Promise<string> {
  return sha256Hex(canonicalBytes(plan));
}

/** Signs `unsigned` with the owner's key; throws when the browser lacks Ed25519 or the key is refused. */
export async function signApproval(identity: OwnerIdentity, unsigned: UnsignedApproval): Promise<PlanApproval> {
  let key: CryptoKey;
  try {
    key = await crypto.subtle.importKey('jwk', { kty: 'OKP', crv: 'Ed25519', d: identity.privateKey, x: identity.publicKey }, { name: 'Ed25519' }, false, ['sign']);
  } catch (error) {
    // Chromium refuses a JWK whose d and x are not one key pair, with an empty message.
    const name = error instanceof Error ? error.name : 'Error';
    throw new Error(`the key was refused (${name}): is the privateKey the one that belongs to this publicKey, and does this browser support Ed25519?`);
  }
  const signature = await crypto.subtle.sign({ name: 'Ed25519' }, key, approvalSigningBytes(unsigned) as BufferSource);
  return { ...unsigned, signature: base64url(signature) };
}
