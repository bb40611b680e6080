// Reading what a finished run stored, for tests that compare runs.

import { openStorage } from '../../src/storage/index.js';

/** The parameters of the run's last stored round, read from its database file. */
export async function lastModel(db: string, runId: string): Promise<Float32Array> {
  const storage = await openStorage(db, { existing: true });
  try {
    const last = (await storage.lastRound(runId))!;
    return (await storage.getCheckpoint(runId, last.round))!.parameters.data;
  } finally {
    await storage.close();
  }
}
