// Which replica drives which run (replicas on one PostgreSQL database). Every replica ticks
// every `renewMs`: for each run still pending or running it claims the run's lease (or
// renews its own) and starts the round loop of each run it newly holds; a run whose lease
// another replica holds, or that was stopped or finished elsewhere, is not driven here.
// A replica that cannot renew (killed, cut off from the database, stalled) stops driving
// the run before its lease runs out, and its last uncommitted round is refused anyway
// (the round's transaction checks the lease). Another replica takes the run over within
// leaseMs + renewMs of the last renewal, resuming after the last committed round.

import { performance } from 'node:perf_hooks';
import type { PostgresCoordination } from '../storage/postgres-coordination.js';
import type { RunRecord, RunStore } from '../storage/storage.js';

export interface RunSupervisorOptions {
  coordination: PostgresCoordination;
  runs: Pick<RunStore, 'listRuns'>;
  replica: string;
  leaseMs: number;
  renewMs: number;
  /** Starts driving a run whose lease this replica now holds. */
  drive(run: RunRecord): void;
  /** Stops driving a run (its lease is lost or the run ended elsewhere). */
  release(runId: string, why: string): void;
  /** Runs driven here now. */
  driving(): string[];
  /** Housekeeping on each tick (agreement in force, old nonces). */
  onTick?(): Promise<void>;
  onError?(error: unknown): void;
}

export class RunSupervisor {
  private readonly renewedAt = new Map<string, number>();
  private ticker: NodeJS.Timeout | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  /** When the tick in progress started, and whether it was reported as stuck. */
  private tickStarted = 0;
  private stuckReported = false;
  private closed = false;

  constructor(private readonly options: RunSupervisorOptions) {}

  start(): void {
    this.ticker = setInterval(() => void this.tick(), this.options.renewMs);
    // Apart from the tick: a renewal stuck on an unreachable database must not keep the run here.
    this.watchdog = setInterval(() => this.expire(), Math.max(100, Math.floor(this.options.renewMs / 2)));
    void this.tick();
  }

  /** A lease this replica just claimed itself (a run it launched). */
  claimed(runId: string): void {
    this.renewedAt.set(runId, performance.now());
  }

  /** Runs a tick now (a run was started or stopped somewhere). */
  tick(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (!this.ticking) {
      this.tickStarted = performance.now();
      this.stuckReported = false;
      this.ticking = this.once().finally(() => (this.ticking = null));
    }
    return this.ticking;
  }

  private async once(): Promise<void> {
    const o = this.options;
    try {
      const live = (await o.runs.listRuns()).filter((r) => r.status === 'pending' || r.status === 'running');
      const liveIds = new Set(live.map((r) => r.runId));
      for (const runId of o.driving()) if (!liveIds.has(runId)) this.drop(runId, 'the run was stopped or ended');
      for (const run of live) {
        if (this.closed) return;
        const started = performance.now();
        if (await o.coordination.claimLease(run.runId, o.replica, o.leaseMs)) {
          this.renewedAt.set(run.runId, started);
          if (!o.driving().includes(run.runId)) o.drive(run);
        } else if (o.driving().includes(run.runId)) {
          this.drop(run.runId, 'another replica holds its lease');
        }
      }
      await o.onTick?.();
    } catch (error) {
      o.onError?.(error);
    }
  }

  private expire(): void {
    const now = performance.now();
    // A tick waiting on the database blocks every later one (no claims, no renewals): say so once.
    if (this.ticking && !this.stuckReported && now - this.tickStarted > this.options.leaseMs) {
      this.stuckReported = true;
      this.options.onError?.(new Error(`a lease tick has waited ${Math.round((now - this.tickStarted) / 1000)} s on the database; no run lease is claimed or renewed until it ends`));
    }
    // Stop before the lease runs out, so two replicas never drive the same run.
    const limit = this.options.leaseMs - this.options.renewMs;
    for (const runId of this.options.driving()) {
      const renewed = this.renewedAt.get(runId);
      if (renewed !== undefined && now - renewed > limit) this.drop(runId, `its lease could not be renewed for ${Math.round((now - renewed) / 1000)} s`);
    }
  }

  private drop(runId: string, why: string): void {
    this.renewedAt.delete(runId);
    this.options.release(runId, why);
  }

  /** Stops ticking; the leases of runs driven here are released by the caller once their loops ended. */
  close(): void {
    this.closed = true;
    if (this.ticker) clearInterval(this.ticker);
    if (this.watchdog) clearInterval(this.watchdog);
  }

  /** Gives up a lease at once (the run ended here, or the replica shuts down), so another replica need not wait for it to expire. */
  async giveUp(runId: string): Promise<void> {
    this.renewedAt.delete(runId);
    await this.options.coordination.releaseLease(runId, this.options.replica);
  }
}
