// Simulated device time. Virtual members train one after another in a few threads, in
// milliseconds each, while real devices train side by side for seconds, some of them much
// slower than others. This executor gives every member a device time: its answer is held
// until `seconds` (× `slowFactor` for the slow ones) after its task started, whatever the
// real computation took, so a round waits for its stragglers as a real one does, and an
// asynchronous strategy's arrivals come in the order real devices would send them. Which
// members are slow is fixed by the seed: a hash of (seed, member id) below `slowFraction`.

import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { MemberAnswer, MemberExecutor } from './memory-grid.js';

export interface DeviceTimeOptions {
  /** A normal member's time per task, in seconds (> 0). */
  seconds: number;
  /** Share of members that are slow, in [0, 1]. */
  slowFraction: number;
  /** How many times longer a slow member takes (>= 1). */
  slowFactor: number;
  seed: number;
}

export function checkDeviceTime(o: DeviceTimeOptions): void {
  const problems: string[] = [];
  if (!(o.seconds > 0) || !Number.isFinite(o.seconds)) problems.push(`seconds: expected a number > 0, got ${o.seconds}`);
  if (!(o.slowFraction >= 0 && o.slowFraction <= 1)) problems.push(`slowFraction: expected a fraction in [0, 1], got ${o.slowFraction}`);
  if (!(o.slowFactor >= 1) || !Number.isFinite(o.slowFactor)) problems.push(`slowFactor: expected a number >= 1, got ${o.slowFactor}`);
  if (problems.length > 0) throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `invalid device time: ${problems.join('; ')}`, { details: { field: 'deviceTime', problems } });
}

/** Whether `memberId` is one of the slow members under this seed. */
export function isSlowMember(memberId: string, options: Pick<DeviceTimeOptions, 'slowFraction' | 'seed'>): boolean {
  const digest = createHash('sha256').update(`concord-slow-member\u0000${options.seed}\u0000${memberId}`).digest();
  return digest.readUInt32BE(0) / 2 ** 32 < options.slowFraction;
}

export class DeviceTimeExecutor implements MemberExecutor {
  constructor(
    private readonly inner: MemberExecutor,
    private readonly options: DeviceTimeOptions,
  ) {
    checkDeviceTime(options);
  }

  /** The device time of one task of this member, in milliseconds. */
  taskMs(memberId: string): number {
    const { seconds, slowFactor } = this.options;
    return 1000 * seconds * (isSlowMember(memberId, this.options) ? slowFactor : 1);
  }

  async run(memberId: string, frame: Uint8Array, signal: AbortSignal): Promise<MemberAnswer> {
    const readyAt = performance.now() + this.taskMs(memberId);
    const answer = await this.inner.run(memberId, frame, signal);
    // Node's timers count whole milliseconds of loop time and may fire up to one early, so
    // wait again until the monotonic clock says the device time has passed.
    // Abandoned by the round (deadline, shutdown): no point holding the answer any longer.
    for (let wait = readyAt - performance.now(); wait > 0 && !signal.aborted; wait = readyAt - performance.now()) {
      await sleep(Math.ceil(wait), undefined, { signal }).catch(() => undefined);
    }
    return answer;
  }

  close(): Promise<void> {
    return this.inner.close?.() ?? Promise.resolve();
  }
}
