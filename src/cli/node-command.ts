// `concord node`: run a member node next to its data until SIGINT/SIGTERM.

import type { Command } from 'commander';
import { runMemberService } from '../node/service.js';
import { coordinatorUrl, fail, parseNumberOption } from './options.js';

export function registerNodeCommand(program: Command): void {
  program
    .command('node')
    .description("run a member node: trains on this member's own data when the coordinator asks; raw data never leaves")
    .option('--coordinator <url>', 'coordinator URL (or $CONCORD_COORDINATOR)')
    .requiredOption('--name <name>', 'member name (letters, digits, . _ -)')
    .requiredOption('--data <spec>', 'data spec, e.g. mnist:member=0,members=5,partition=dirichlet,alpha=0.5 or csv:FILE,label=COLUMN')
    .option('--state-dir <dir>', 'where the node keeps its credentials', '.concord/nodes')
    .option('--privacy-budget <ε>', "this member's own differential-privacy budget; it then refuses tasks without DP or beyond it", parseNumberOption('--privacy-budget'))
    .option('--privacy-delta <δ>', 'δ of that budget', parseNumberOption('--privacy-delta'), 1e-5)
    .option('--json', 'machine-readable log lines')
    .action(async (opts: { coordinator?: string; name: string; data: string; stateDir: string; privacyBudget?: number; privacyDelta: number; json?: boolean }) => {
      const json = Boolean(opts.json);
      const abort = new AbortController();
      process.once('SIGINT', () => abort.abort());
      process.once('SIGTERM', () => abort.abort());
      try {
        await runMemberService({
          coordinator: coordinatorUrl(opts.coordinator),
          name: opts.name,
          data: opts.data,
          stateDir: opts.stateDir,
          ...(opts.privacyBudget !== undefined ? { privacyBudget: { epsilon: opts.privacyBudget, delta: opts.privacyDelta } } : {}),
          signal: abort.signal,
          log: (line) => process.stderr.write(json ? JSON.stringify({ member: opts.name, message: line }) + '\n' : `[${opts.name}] ${line}\n`),
        });
        process.exit(0);
      } catch (error) {
        fail(error, json);
      }
    });
}
