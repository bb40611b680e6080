// A member node process for the secure-aggregation process tests: it runs the real member
// loop with an arithmetic "training" (θ_k = θ + the member's fixed synthetic delta) wrapped in
// withSecureAggregation, and SIGKILLs itself at a chosen stage — on receiving the stage's task
// (`dieOn`) or just after its answer was accepted (`dieAfter`). Settings come as JSON in the
// environment variable CONCORD_SECURE_MEMBER. Imported (not run), it only exports the deltas.

import { pathToFileURL } from 'node:url';
import { seededRandom } from '../../src/core/random.js';
import { CoordinatorClient } from '../../src/node/client.js';
import { runMember, type TaskHandler } from '../../src/node/member.js';
import { withSecureAggregation } from '../../src/node/secagg-handler.js';
import { nodePrimitives } from '../../src/privacy/secagg/primitives-node.js';
import { makeParameters } from '../../src/protocol/tensors.js';

/** The delta member `seed` adds to every global model: uniform in (−1, 1), fixed per seed. */
export function syntheticDelta(seed: number, length: number): Float32Array {
  const random = seededRandom(seed, 0x5ec);
  return Float32Array.from({ length }, () => 2 * random() - 1);
}

export interface SecureMemberSettings {
  url: string;
  name: string;
  numExamples: number;
  seed: number;
  dieOn?: string;
  dieAfter?: string;
}

async function main(): Promise<void> {
  const settings = JSON.parse(process.env.CONCORD_SECURE_MEMBER ?? '{}') as SecureMemberSettings;
  const client = new CoordinatorClient(settings.url);
  const die = (): void => void process.kill(process.pid, 'SIGKILL');
  const inner: TaskHandler = {
    async train(_task, global) {
      const delta = syntheticDelta(settings.seed, global.data.length);
      return { parameters: makeParameters(global.specs, global.data.map((v, i) => v + delta[i]!)), numExamples: settings.numExamples, metrics: {} };
    },
    async evaluate(_task, global) {
      return { numExamples: settings.numExamples, metrics: { loss: global.data.reduce((s, v) => s + v, 0) } };
    },
  };
  const secure = withSecureAggregation(inner, { memberId: () => client.credentials?.memberId, primitives: nodePrimitives });
  const handler: TaskHandler = {
    ...secure,
    async secagg(task, global) {
      if (task.stage === settings.dieOn) die();
      return secure.secagg!(task, global);
    },
  };
  const abort = new AbortController();
  process.once('SIGTERM', () => abort.abort());
  await runMember({
    client,
    name: settings.name,
    dataset: { name: 'synthetic', numExamples: settings.numExamples, numHoldout: settings.numExamples, inputShape: [2], classes: 2 },
    handler,
    signal: abort.signal,
    pollMs: 500,
    heartbeatMs: 200,
    onTask: (task, outcome) => {
      if (outcome.accepted && task.stage !== undefined && task.stage === settings.dieAfter) die();
    },
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
