// Child process for the crash-safety test in sqlite.test.ts: saves rounds of one run
// forever, printing "saving N" before and "saved N" after each commit, until the test
// kills it with SIGKILL. Every value of round N's parameters is N, its strategy state -N.
// Usage: crash-writer.fixture.ts DB_PATH RUN_ID PARAMETER_COUNT MEMBERS_PER_ROUND

import { SqliteStorage } from './sqlite.js';

async function main(): Promise<void> {
  const [dbPath, runId, count, members] = process.argv.slice(2);
  if (!dbPath || !runId || !count || !members) throw new Error('usage: crash-writer.fixture.ts DB_PATH RUN_ID PARAMETER_COUNT MEMBERS_PER_ROUND');
  const parameterCount = Number(count);
  const membersPerRound = Number(members);
  const storage = new SqliteStorage(dbPath);
  await storage.migrate();
  for (let round = ((await storage.lastRound(runId))?.round ?? 0) + 1; ; round++) {
    process.stdout.write(`saving ${round}\n`);
    await storage.saveRound({
      runId,
      round,
      parameters: { specs: [{ name: 'w', shape: [parameterCount] }], data: new Float32Array(parameterCount).fill(round) },
      strategyState: { specs: [{ name: 'm', shape: [1000] }], data: new Float32Array(1000).fill(-round) },
      trainMetrics: { loss: 1 / round },
      evalLoss: null,
      evalMetrics: {},
      serverEval: null,
      participants: ['mem_a', 'mem_b', 'mem_c'],
      failures: [],
      members: Array.from({ length: membersPerRound }, (_, i) => ({
        memberId: `mem_${i}`,
        phase: 'train' as const,
        numExamples: 100 * round + i,
        loss: round,
        metrics: {},
        bytesIn: 1,
        bytesOut: 1,
        seconds: 0.5,
      })),
      attempts: 1,
      startedAt: round,
      completedAt: round,
    });
    process.stdout.write(`saved ${round}\n`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
