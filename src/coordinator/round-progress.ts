// What each run's current batch of tasks is doing, member by member: queued, working (the
// member has taken its task), reported or failed. The task board keeps it as tasks move,
// so the dashboard can show who is training and who has reported during a round instead
// of an empty page until the round commits. In memory only: it describes this moment.

export type TaskProgressState = 'queued' | 'working' | 'reported' | 'failed';

export interface MemberProgress {
  memberId: string;
  name: string;
  state: TaskProgressState;
  /** Why the task failed (state failed). */
  reason?: string;
}

export interface RoundProgress {
  runId: string;
  round: number;
  /** train, evaluate, or a secure-aggregation stage. */
  stage: string;
  startedAt: number;
  members: MemberProgress[];
}

export class RoundProgressBook {
  private readonly byRun = new Map<string, RoundProgress>();

  /** A new batch of tasks for a run replaces the batch it had (the loop moved on). */
  begin(runId: string, round: number, stage: string, members: { memberId: string; name: string }[], at: number): void {
    const current = this.byRun.get(runId);
    // Stages of one round (train, then evaluate) each start a batch; several sends of one stage add up.
    if (current && current.round === round && current.stage === stage) {
      for (const m of members) if (!current.members.some((c) => c.memberId === m.memberId)) current.members.push({ ...m, state: 'queued' });
      return;
    }
    this.byRun.set(runId, { runId, round, stage, startedAt: at, members: members.map((m) => ({ ...m, state: 'queued' })) });
  }

  mark(runId: string, round: number, memberId: string, state: TaskProgressState, reason?: string): void {
    const current = this.byRun.get(runId);
    if (!current || current.round !== round) return;
    const member = current.members.find((m) => m.memberId === memberId);
    if (!member || member.state === 'reported' || member.state === 'failed') return;
    member.state = state;
    if (reason !== undefined) member.reason = reason;
  }

  get(runId: string): RoundProgress | null {
    const current = this.byRun.get(runId);
    return current ? { ...current, members: current.members.map((m) => ({ ...m })).sort((a, b) => a.name.localeCompare(b.name)) } : null;
  }
}
