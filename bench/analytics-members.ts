// Child process for the analytics benchmark: one member per data spec (each its own
// schema-validated hospital file) in one process, answering analytics queries only (no model).
// Usage: node --import tsx bench/analytics-members.ts URL SPECS.json

import { withAnalytics } from '../src/node/analytics-handler.js';
import { CoordinatorClient } from '../src/node/client.js';
import { runMember } from '../src/node/member.js';
import { nodePrimitives } from '../src/privacy/secagg/primitives-node.js';
import { loadMemberData } from '../src/data/spec.js';
import { readFile } from 'node:fs/promises';

const [url, specsFile] = process.argv.slice(2);
const specs = JSON.parse(await readFile(specsFile!, 'utf8')) as string[];
const abort = new AbortController();
process.on('SIGTERM', () => abort.abort());
const refuse = async (): Promise<never> => {
  throw new Error('this benchmark member answers analytics only');
};

await Promise.all(
  specs.map(async (spec, i) => {
    const data = await loadMemberData(spec);
    const client = new CoordinatorClient(url!);
    return runMember({
      client,
      name: `bench-${i}`,
      dataset: data.descriptor,
      handler: withAnalytics({ train: refuse, evaluate: refuse }, { data: spec, memberId: () => client.credentials?.memberId, primitives: nodePrimitives }),
      signal: abort.signal,
      pollMs: 20_000,
      heartbeatMs: 60_000,
    });
  }),
);
