// Composes a member node: loads only this member's data, prepares TF.js, and runs the
// member loop against the coordinator until stopped. The node's Ed25519 identity lives in
// its state directory (<state-dir>/<name>.identity.json, mode 0600) and signs every request.

import { join } from 'node:path';
import { loadMemberData, parseDataSpec } from '../data/spec.js';
import { withAnalytics } from './analytics-handler.js';
import { withDataRevalidation } from './data-guard.js';
import { fingerprint, loadOrCreateIdentity } from '../governance/identity.js';
import { initBackend } from '../model/backend.js';
import { CoordinatorClient } from './client.js';
import { readCa } from './coordinator-fetch.js';
import { readOwnerKey, withOwnerApproval } from './approval-guard.js';
import { runMember } from './member.js';
import { ledgerFileStore } from './ledger-file.js';
import { sharedLedgerStore, withPrivacyBudget } from './privacy-guard.js';
import type { QueryType } from '../analytics/query-types.js';
import { energyMeter, type EnergyOptions } from './energy.js';
import { withSecureAggregation } from './secagg-handler.js';
import { nodePrimitives } from '../privacy/secagg/primitives-node.js';
import { createTfjsHandler } from './tfjs-handler.js';

export interface MemberServiceOptions {
  coordinator: string;
  name: string;
  /** Data spec, e.g. mnist:member=0,members=5,partition=dirichlet,alpha=0.5 or csv:FILE,label=y */
  data: string;
  /** Where the identity and enrollment are kept between restarts. Default .concord/nodes. */
  stateDir?: string;
  /** The operator's single-use invitation code, for the first enrollment. */
  invitation?: string;
  /** PEM file of the coordinator's CA (or self-signed certificate) to pin for HTTPS. */
  caFile?: string;
  signal: AbortSignal;
  log?: (line: string) => void;
  /** The member's own differential-privacy budget; with one, it trains only under DP and within it. */
  privacyBudget?: { epsilon: number; delta: number };
  /**
   * The data owner's public key (base64url, or a file holding it). With one, the node trains
   * only on plans that key approved for this member (node/approval-guard.ts). Default: none.
   */
  ownerKey?: string;
  /** The smallest minimum count per released cell this member accepts in analytics queries. Default 5. */
  analyticsMinCount?: number;
  /** Analytics query types this member answers. Default: every type the agreement allows. */
  analyticsQueries?: QueryType[];
  /** Declared power draw (used when RAPL is unreadable) and grid carbon intensity; see node/energy.ts. */
  energy?: EnergyOptions;
}

export async function runMemberService(options: MemberServiceOptions): Promise<void> {
  const log = options.log ?? (() => undefined);
  const data = await loadMemberData(options.data);
  const backend = await initBackend();
  log(`${options.name}: ${data.descriptor.numExamples} training and ${data.descriptor.numHoldout} holdout examples; TF.js backend ${backend}`);
  const { identity, created } = await loadOrCreateIdentity(join(options.stateDir ?? '.concord/nodes', `${options.name}.identity.json`));
  log(`${created ? 'created' : 'loaded'} identity ${fingerprint(identity.publicKey)}`);
  const client = new CoordinatorClient(options.coordinator, {
    identity,
    ...(options.invitation ? { invitation: options.invitation } : {}),
    ...(options.caFile ? { ca: readCa(options.caFile) } : {}),
  });
  let memberSeed = 0;
  for (const ch of options.name) memberSeed = (memberSeed * 31 + ch.charCodeAt(0)) | 0;
  const stateDir = options.stateDir ?? '.concord/nodes';
  let handler = createTfjsHandler(data, { memberSeed, log, meter: energyMeter(options.energy) });
  // Schema-validated data is checked again before every task (innermost, so secure-aggregation stages that train are covered).
  const schemaData = parseDataSpec(options.data).schema !== undefined;
  if (schemaData) handler = await withDataRevalidation(handler, options.data, log);
  // One ledger for training and analytics alike.
  const ledgerStore = sharedLedgerStore(ledgerFileStore(join(stateDir, `${options.name}.privacy.json`)));
  const datasetId = `${options.name}/${data.descriptor.name}`;
  if (options.privacyBudget) {
    handler = await withPrivacyBudget(handler, {
      budget: options.privacyBudget,
      datasetId,
      numExamples: data.descriptor.numExamples,
      store: ledgerStore,
      log,
    });
  }
  // Secure-aggregation stages run the same (privacy-guarded) training inside them.
  handler = withSecureAggregation(handler, { memberId: () => client.credentials?.memberId, primitives: nodePrimitives, log });
  const ownerKey = options.ownerKey ? await readOwnerKey(options.ownerKey) : undefined;
  if (ownerKey) {
    handler = withOwnerApproval(handler, { ownerKey, member: options.name, log });
    log(`trains only on plans approved by data owner ${fingerprint(ownerKey)}`);
  }
  // Schema-validated tabular data can answer analytics queries (revalidated before each too).
  if (schemaData) {
    handler = withAnalytics(handler, {
      data: options.data,
      memberId: () => client.credentials?.memberId,
      primitives: nodePrimitives,
      ...(options.analyticsMinCount !== undefined ? { minCount: options.analyticsMinCount } : {}),
      ...(options.analyticsQueries ? { allowedQueries: options.analyticsQueries } : {}),
      ...(options.privacyBudget ? { privacy: { budget: options.privacyBudget, datasetId, store: ledgerStore } } : {}),
      ...(ownerKey ? { owner: { key: ownerKey, member: options.name } } : {}),
      log,
    });
    log('answers analytics queries over its schema-validated data');
  }
  await runMember({
    client,
    name: options.name,
    dataset: data.descriptor,
    handler,
    signal: options.signal,
    credentialsFile: join(stateDir, `${options.name}.json`),
    log,
  });
}
