// Child process for the coordinator benchmark: N members in one process that answer
// every task at once with the model they received (no training), so the benchmark
// measures the coordinator and the wire, not TF.js.
// Usage: node --import tsx bench/noop-members.ts URL COUNT PREFIX

import { setMaxListeners } from 'node:events';
import { CoordinatorClient } from '../src/node/client.js';
import { runMember } from '../src/node/member.js';

const [url, countText, prefix] = process.argv.slice(2);
const count = Number(countText);
const abort = new AbortController();
setMaxListeners(0, abort.signal); // every member in this process listens to it
process.on('SIGTERM', () => abort.abort());

await Promise.all(
  Array.from({ length: count }, (_, i) =>
    runMember({
      client: new CoordinatorClient(url!),
      name: `${prefix}-${i}`,
      dataset: { name: 'none', numExamples: 100, numHoldout: 100, inputShape: [784], classes: 10 },
      handler: {
        train: async (_task, global) => ({ parameters: global, numExamples: 100, metrics: { loss: 0 } }),
        evaluate: async () => ({ numExamples: 100, metrics: { loss: 0 } }),
      },
      signal: abort.signal,
      pollMs: 20_000,
      // Under the task board's 20 s silence limit (heartbeatTimeoutMs), with room for a loaded
      // machine: at 60 s, members still working were called silent and the 500-member round failed.
      heartbeatMs: 10_000,
    }),
  ),
);
