// Composes a member node: loads only this member's data, prepares TF.js, and runs the
// member loop against the coordinator until stopped.

import { join } from 'node:path';
import { loadMemberData } from '../data/spec.js';
import { initBackend } from '../model/backend.js';
import { CoordinatorClient } from './client.js';
import { runMember } from './member.js';
import { withPrivacyBudget } from './privacy-guard.js';
import { createTfjsHandler } from './tfjs-handler.js';

export interface MemberServiceOptions {
  coordinator: string;
  name: string;
  /** Data spec, e.g. mnist:member=0,members=5,partition=dirichlet,alpha=0.5 or csv:FILE,label=y */
  data: string;
  /** Where credentials are kept between restarts. Default .concord/nodes. */
  stateDir?: string;
  signal: AbortSignal;
  log?: (line: string) => void;
  /** The member's own differential-privacy budget; with one, it trains only under DP and within it. */
  privacyBudget?: { epsilon: number; delta: number };
}

export async function runMemberService(options: MemberServiceOptions): Promise<void> {
  const log = options.log ?? (() => undefined);
  const data = await loadMemberData(options.data);
  const backend = await initBackend();
  log(`${options.name}: ${data.descriptor.numExamples} training and ${data.descriptor.numHoldout} holdout examples; TF.js backend ${backend}`);
  const client = new CoordinatorClient(options.coordinator);
  let memberSeed = 0;
  for (const ch of options.name) memberSeed = (memberSeed * 31 + ch.charCodeAt(0)) | 0;
  const stateDir = options.stateDir ?? '.concord/nodes';
  let handler = createTfjsHandler(data, { memberSeed, log });
  if (options.privacyBudget) {
    handler = await withPrivacyBudget(handler, {
      budget: options.privacyBudget,
      datasetId: `${options.name}/${data.descriptor.name}`,
      numExamples: data.descriptor.numExamples,
      ledgerFile: join(stateDir, `${options.name}.privacy.json`),
      log,
    });
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
