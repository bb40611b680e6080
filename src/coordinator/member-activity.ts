// When each member was last seen, for the members table (lastSeenAt): recorded on every
// poll, written in batches. One UPDATE per long-poll made the database write (and, on
// SQLite, its fsync) the most frequent thing the coordinator did; who is online is
// decided by the task board in memory, so the stored time may lag by one flush interval.

import type { MemberStore } from '../storage/storage.js';

export interface MemberActivityOptions {
  store: Pick<MemberStore, 'touchMembers'>;
  /** How often pending contacts are written. Default 1000 ms. */
  flushMs?: number;
  /** Told when a flush fails; the contacts are kept for the next one. */
  onError?: (error: unknown) => void;
}

export class MemberActivity {
  private pending = new Map<string, number>();
  private readonly store: Pick<MemberStore, 'touchMembers'>;
  private readonly onError: (error: unknown) => void;
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> | null = null;

  constructor(options: MemberActivityOptions) {
    this.store = options.store;
    this.onError = options.onError ?? (() => undefined);
    this.timer = setInterval(() => void this.flush(), options.flushMs ?? 1000);
    this.timer.unref();
  }

  /** Records a contact; written with the next flush. */
  touch(memberId: string, at: number): void {
    if ((this.pending.get(memberId) ?? -Infinity) < at) this.pending.set(memberId, at);
  }

  /** Writes what is pending (one write); resolves when written. A failed write keeps the contacts for the next flush. */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    this.flushing = this.store
      .touchMembers(batch)
      .catch((error: unknown) => {
        for (const [id, at] of batch) this.touch(id, at);
        this.onError(error);
      })
      .finally(() => (this.flushing = null));
    await this.flushing;
  }

  /** Stops the timer and writes what is pending. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
