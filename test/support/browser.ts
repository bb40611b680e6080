// What the Chromium tests share: building the pages, launching Debian's Chromium headless
// (never a downloaded browser), the two-feature model as TF.js names its tensors, and Node
// members that can also take part in secure rounds.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chromium, type Browser } from 'playwright-core';
import { withSecureAggregation } from '../../src/node/secagg-handler.js';
import { nodePrimitives } from '../../src/privacy/secagg/primitives-node.js';
import { addMember, plus, type Harness, type TaskLog } from './harness.js';

/** Builds web/dist if it is older than its sources (the coordinator serves it). */
export function buildWebPages(): void {
  const build = spawnSync(process.execPath, ['scripts/build-web.mjs'], { stdio: 'inherit' });
  assert.equal(build.status, 0, 'the web pages must build');
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}

/**
 * The run's model as TF.js builds an MLP without hidden layers for 2 features and 2 classes
 * (src/model/build.ts): members load weights by name, so runs start from tensors so named.
 */
export const TWO_FEATURE_SPECS = [
  { name: 'output/kernel', shape: [2, 2] },
  { name: 'output/bias', shape: [2] },
];

/** A Node member whose "training" adds `c` to every weight, able to take part in secure rounds too. */
export function secureNodeMember(h: Harness, name: string, numExamples: number, c: number): TaskLog {
  const log: TaskLog = addMember(h, name, numExamples, plus(c), (inner) => withSecureAggregation(inner, { memberId: () => log.client.credentials?.memberId, primitives: nodePrimitives }));
  return log;
}
