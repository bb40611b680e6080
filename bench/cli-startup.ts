// CLI start-up: wall-clock time of `concord` commands that need no coordinator, against a
// bare `node -e 0` measured in the same run. Goal: --help and `privacy epsilon` under 5× a
// bare Node start. The commands run interleaved, repetition by repetition, so that load
// from other processes hits them alike; the median is reported. The last row runs the same
// CLI from the TypeScript sources through tsx, what every command paid before dist/.

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { median, printTable } from './table.js';

export interface CliStartupOptions {
  quick?: boolean;
  /** Timed runs of each command; the median is reported. Default 7 (quick: 5). */
  repeats?: number;
}

export interface CliStartupRow {
  command: string;
  seconds: number;
  /** × the median of `node -e 0`. */
  ratio: number;
}

const CLI = fileURLToPath(new URL('../bin/concord.mjs', import.meta.url));
const SOURCES = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const EPSILON = ['privacy', 'epsilon', '--sampling-rate', '0.01', '--noise-multiplier', '1.1', '--steps', '1000', '--delta', '1e-5'];

const COMMANDS: { command: string; args: string[] }[] = [
  { command: 'node -e 0', args: ['-e', '0'] },
  { command: 'concord --help', args: [CLI, '--help'] },
  { command: 'concord privacy epsilon …', args: [CLI, ...EPSILON] },
  { command: 'concord status --help', args: [CLI, 'status', '--help'] },
  { command: 'concord --help (src/ through tsx)', args: ['--import', 'tsx', SOURCES, '--help'] },
];

function timeRun(args: string[]): number {
  const start = process.hrtime.bigint();
  const run = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (run.status !== 0) throw new Error(`node ${args.join(' ')} exited ${run.status}: ${run.stderr.toString()}`);
  return seconds;
}

export async function benchCliStartup(options: CliStartupOptions = {}): Promise<CliStartupRow[]> {
  const repeats = options.repeats ?? (options.quick ? 5 : 7);
  const samples = COMMANDS.map(() => [] as number[]);
  for (const c of COMMANDS) timeRun(c.args); // warm the file cache
  for (let r = 0; r < repeats; r++) COMMANDS.forEach((c, i) => samples[i]!.push(timeRun(c.args)));
  const bare = median(samples[0]!);
  const rows = COMMANDS.map((c, i) => ({ command: c.command, seconds: median(samples[i]!), ratio: median(samples[i]!) / bare }));
  printTable(
    `CLI start-up: median wall time of ${repeats} runs each, interleaved, and × a bare node start (goal: --help and privacy epsilon ≤ 5×)`,
    ['command', 'ms', '× node -e 0'],
    rows.map((r) => [r.command, (r.seconds * 1000).toFixed(0), r.ratio.toFixed(2)]),
  );
  return rows;
}
