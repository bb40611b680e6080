// Progress of long work on a terminal: one bar per running task (with its ETA) kept at the
// bottom of stderr while log lines scroll above it. When stderr is not a terminal (CI, a
// pipe, a log file) there are no bars and no escape codes: tasks print a line when they
// start, at most every fifth of the way, and when they finish.

export interface ProgressTask {
  /** `done` of the task's total (ignored for a task of unknown length); `note` is shown after the count. */
  update(done: number, note?: string): void;
  finish(note?: string): void;
}

export interface Progress {
  /** A line that stays (above the bars). */
  log(line: string): void;
  /** `total` 0: a task of unknown length, shown with its elapsed time. */
  task(label: string, total: number, unit: string): ProgressTask;
}

interface Stream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export function createProgress(stream: Stream = process.stderr, interactive = Boolean(stream.isTTY)): Progress {
  return interactive ? new TerminalProgress(stream) : new LineProgress(stream);
}

/** Prints nothing at all: for --quiet. */
export const silentProgress: Progress = {
  log: () => undefined,
  task: () => ({ update: () => undefined, finish: () => undefined }),
};

export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const m = Math.floor(seconds / 60);
  return `${m} min ${String(Math.round(seconds - m * 60)).padStart(2, '0')} s`;
}

interface TaskState {
  label: string;
  total: number;
  unit: string;
  done: number;
  note: string;
  started: number;
}

/** Seconds left at the pace so far; null before the first step. */
export function eta(task: Pick<TaskState, 'done' | 'total' | 'started'>, now = Date.now()): number | null {
  if (task.total <= 0 || task.done <= 0) return null;
  const elapsed = (now - task.started) / 1000;
  return (elapsed / task.done) * Math.max(task.total - task.done, 0);
}

const BAR_WIDTH = 24;

export function renderBar(task: TaskState, now = Date.now()): string {
  const elapsed = formatSeconds((now - task.started) / 1000);
  const note = task.note ? ` · ${task.note}` : '';
  if (task.total <= 0) return `${task.label} … ${elapsed}${note}`;
  const fraction = Math.min(task.done / task.total, 1);
  const filled = Math.round(fraction * BAR_WIDTH);
  const left = eta(task, now);
  return `${task.label} ▕${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}▏ ${task.done}/${task.total} ${task.unit} · ${elapsed}${left === null ? '' : ` · ETA ${formatSeconds(left)}`}${note}`;
}

class TerminalProgress implements Progress {
  private readonly tasks: TaskState[] = [];
  private drawn = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly stream: Stream) {}

  log(line: string): void {
    this.clear();
    this.stream.write(line + '\n');
    this.draw();
  }

  task(label: string, total: number, unit: string): ProgressTask {
    const state: TaskState = { label, total, unit, done: 0, note: '', started: Date.now() };
    this.tasks.push(state);
    this.redraw();
    // Elapsed time and ETA move even while a step takes long.
    this.timer ??= setInterval(() => this.redraw(), 1000).unref();
    return {
      update: (done, note) => {
        state.done = done;
        if (note !== undefined) state.note = note;
        this.redraw();
      },
      finish: (note) => {
        const i = this.tasks.indexOf(state);
        if (i < 0) return;
        this.tasks.splice(i, 1);
        if (this.tasks.length === 0 && this.timer) {
          clearInterval(this.timer);
          this.timer = null;
        }
        this.log(`${label}: done in ${formatSeconds((Date.now() - state.started) / 1000)}${note ? ` · ${note}` : ''}`);
      },
    };
  }

  private redraw(): void {
    this.clear();
    this.draw();
  }

  private clear(): void {
    // Up one line and erase it, once per bar drawn.
    if (this.drawn > 0) this.stream.write('\x1b[1A\x1b[2K'.repeat(this.drawn) + '\r');
    this.drawn = 0;
  }

  private draw(): void {
    // A terminal of unknown width (e.g. a pseudo-terminal without a size) reports 0 columns.
    const width = Math.max((this.stream.columns || 100) - 1, 20);
    for (const t of this.tasks) this.stream.write(truncate(renderBar(t), width) + '\n');
    this.drawn = this.tasks.length;
  }
}

class LineProgress implements Progress {
  constructor(private readonly stream: Stream) {}

  log(line: string): void {
    this.stream.write(line + '\n');
  }

  task(label: string, total: number, unit: string): ProgressTask {
    const started = Date.now();
    let reported = 0;
    this.log(total > 0 ? `${label}: ${total} ${unit}` : `${label} …`);
    return {
      update: (done, note) => {
        // Every fifth of the way (and the last step), not every step: a log, not an animation.
        const step = total > 0 ? Math.floor((done / total) * 5) : 0;
        if (total <= 0 || (step <= reported && done < total)) return;
        reported = step;
        this.log(`  ${label} ${done}/${total} ${unit}${note ? ` · ${note}` : ''} · ${formatSeconds((Date.now() - started) / 1000)}`);
      },
      finish: (note) => this.log(`${label}: done in ${formatSeconds((Date.now() - started) / 1000)}${note ? ` · ${note}` : ''}`),
    };
  }
}

function truncate(line: string, width: number): string {
  return [...line].length <= width ? line : [...line].slice(0, width - 1).join('') + '…';
}
