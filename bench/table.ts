// Small helpers for the benchmark scripts: robust timing (median of repeats, measured with
// the monotonic nanosecond clock) and aligned plain-text tables.

export interface TimingOptions {
  /** Timed runs; the median is reported. Default 7. */
  repeats?: number;
  /** Untimed runs first, to let the JIT settle. Default 1. */
  warmup?: number;
}

/** Seconds taken by one call of fn, as the median over `repeats` calls. */
export function timeMedian(fn: () => unknown, options: TimingOptions = {}): number {
  const { repeats = 7, warmup = 1 } = options;
  for (let i = 0; i < warmup; i++) fn();
  const samples: number[] = [];
  for (let i = 0; i < repeats; i++) samples.push(timeOnce(fn));
  return median(samples);
}

/** Seconds taken by one call of fn. */
export function timeOnce(fn: () => unknown): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Columns padded to their widest cell; numbers-looking cells right-aligned. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const numeric = (cell: string) => /^[-+]?[\d.,]+(e[-+]?\d+)?[%x×]?$/i.test(cell);
  const line = (cells: readonly string[]) =>
    cells.map((cell, c) => (numeric(cell) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ').trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function printTable(title: string, headers: readonly string[], rows: readonly (readonly string[])[]): void {
  console.log(`\n${title}\n\n${formatTable(headers, rows)}\n`);
}
